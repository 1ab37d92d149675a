-- id: da_flagged_crimes
-- title: Domestic abuse-related crimes
-- description: Crimes the force flagged as domestic abuse-related, by month
--   recorded and district. More recording can mean more confidence to report, so
--   this is monitored rather than targeted.
-- priority: Domestic abuse
-- group: Domestic abuse crimes
-- basis: Domestic Abuse Act 2021; Home Office domestic abuse flag
-- source: Home Office domestic abuse flag; force data-sharing extract
-- tables: force_crime
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE domestic_abuse
  AND district_code IS NOT NULL
GROUP BY date_trunc('month', recorded_date), district_code
