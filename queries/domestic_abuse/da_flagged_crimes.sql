-- id: da_flagged_crimes
-- title: Domestic abuse-related crimes
-- description: Crimes the force flagged as domestic abuse-related, by month
--   recorded and district. More recording can mean more confidence to
--   report, so this is monitored rather than targeted.
-- theme: Domestic abuse
-- priority: Domestic abuse
-- unit: count
-- polarity: monitor
-- sources: force_crime
-- basis: Domestic Abuse Act 2021; Home Office domestic abuse flag
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE domestic_abuse
  AND district_code IS NOT NULL
GROUP BY 1, 2
