-- id: hate_repeat_victims_pct
-- title: Hate crimes with a repeat victim (%)
-- description: Share of hate crimes whose victim was a repeat victim.
-- priority: Hate crime
-- basis: Lancashire Hate Crime Strategy
-- source: Force repeat-victim flag
-- tables: hate_crimes
-- unit: percentage
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       SUM(CASE WHEN repeat_victim THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM hate_crimes
GROUP BY month, district_code
