-- id: hate_repeat_victims_pct
-- title: Hate crimes with a repeat victim (%)
-- description: Share of hate crimes whose victim was a repeat victim.
-- theme: Hate crime
-- priority: Hate crime
-- basis: Lancashire Hate Crime Strategy
-- source: Force repeat-victim flag
-- sources: force_crime
-- unit: percentage
-- denominator: none
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       SUM(CASE WHEN repeat_victim THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM force_crime
WHERE district_code IS NOT NULL
  AND (hate_race OR hate_religion OR hate_sexual_orientation OR hate_disability OR hate_transgender)
GROUP BY 1, 2
