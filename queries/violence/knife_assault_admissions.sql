-- id: knife_assault_admissions
-- title: Hospital admissions for assault with a sharp object
-- description: Emergency admissions of residents for assault with a knife or sharp
--   object (SVD core measure 1).
-- priority: Violence and serious violence
-- basis: Serious Violence Duty core measure 1
-- source: NHS Hospital Episode Statistics, ICD-10 X99 (assault by sharp object)
-- tables: hospital_assault_admissions
-- unit: count
-- polarity: lower is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', admission_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM hospital_assault_admissions
WHERE district_code IS NOT NULL
  AND sharp_object
GROUP BY date_trunc('month', admission_date), district_code
