-- id: violence_with_injury_rate
-- title: Violence with injury per 1,000 people
-- description: Crimes of violence with injury (Home Office codes 5D, 5E, 8N, 8P)
--   per 1,000 residents. Assault without injury on a constable (104) is not
--   counted.
-- priority: Violence and serious violence
-- basis: Serious Violence Duty (PCSC Act 2022)
-- source: Home Office Counting Rules for Recorded Crime; force data-sharing extract
-- tables: force_crime, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: lower is better
-- target: -5% vs sply
-- tolerance: 1%
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE district_code IS NOT NULL
  AND ho_offence_code IN ('5D', '5E', '8N', '8P')
GROUP BY date_trunc('month', recorded_date), district_code
