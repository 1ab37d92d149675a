-- id: stalking_harassment
-- title: Stalking and harassment offences
-- description: Police-recorded stalking and harassment as ONS groups them:
--   stalking (8Q), harassment (8L, 8M), malicious communications (8R) and
--   controlling or coercive behaviour (8U).
-- priority: Violence against women and girls
-- basis: Protection from Harassment Act 1997; Stalking Protection Act 2019
-- source: Home Office Counting Rules for Recorded Crime; force data-sharing extract
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
WHERE district_code IS NOT NULL
  AND ho_offence_code IN ('8Q', '8R', '8L', '8M', '8U')
GROUP BY date_trunc('month', recorded_date), district_code
