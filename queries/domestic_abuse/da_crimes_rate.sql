-- id: da_crimes_rate
-- title: Domestic abuse-related crimes per 1,000 people
-- description: Crimes flagged by the force as domestic abuse-related, per 1,000
--   residents. More recording can mean more confidence to report, so this is
--   monitored, not targeted.
-- priority: Domestic abuse
-- group: Domestic abuse crimes
-- basis: Domestic Abuse Act 2021; Crime and Disorder Act 1998 s17
-- source: Home Office domestic abuse flag (ONS Domestic abuse in England and Wales
--   overview)
-- tables: force_crime, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE district_code IS NOT NULL
  AND domestic_abuse
GROUP BY date_trunc('month', recorded_date), district_code
