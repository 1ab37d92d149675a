-- id: da_repeat_victims_pct
-- title: Domestic abuse crimes with a repeat victim (%)
-- description: Share of domestic abuse-related crimes whose victim was a victim of
--   domestic abuse in the previous 12 months.
-- priority: Domestic abuse
-- basis: Domestic Abuse Act 2021
-- source: Force repeat-victim flag (12-month window)
-- tables: force_crime
-- unit: percentage
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
  AND domestic_abuse
GROUP BY date_trunc('month', recorded_date), district_code
