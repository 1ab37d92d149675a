-- id: knife_serious_violence_u25
-- title: Knife or sharp object-enabled serious violence, victims under 25
-- description: SVD core measure 2 for victims aged under 25.
-- priority: Violence and serious violence
-- basis: Serious Violence Duty core measure 2 (under 25)
-- source: Home Office Serious Violence Duty statutory guidance: core success
--   measures
-- tables: force_crime
-- unit: count
-- polarity: lower is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE district_code IS NOT NULL
  AND knife_sharp_object
  AND crime_type IN ('Violence and sexual offences', 'Robbery')
  AND victim_age_band IN ('0-9', '10-17', '18-24')
GROUP BY date_trunc('month', recorded_date), district_code
