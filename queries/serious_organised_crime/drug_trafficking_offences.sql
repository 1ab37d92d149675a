-- id: drug_trafficking_offences
-- title: Drug trafficking offences
-- description: Police-recorded trafficking in controlled drugs and other drug
--   offences (Home Office codes 92A, 92C; possession, 92D and 92E, is not
--   counted): proactive policing, so monitored.
-- priority: Serious organised crime
-- basis: Misuse of Drugs Act 1971; From Harm to Hope (2021)
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
  AND ho_offence_code IN ('92A', '92C')  -- trafficking; other drug offences
GROUP BY date_trunc('month', recorded_date), district_code
