-- id: homicides
-- title: Homicides
-- description: Police-recorded homicides (Home Office code 1: murder,
--   manslaughter). SVD core measure 3. Small numbers: suppressed in public outputs.
-- priority: Violence and serious violence
-- basis: Serious Violence Duty core measure 3
-- source: Home Office Homicide Index; SVD core measures
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
  AND ho_offence_code = '1'
GROUP BY date_trunc('month', recorded_date), district_code
