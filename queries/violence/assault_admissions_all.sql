-- id: assault_admissions_all
-- title: Hospital admissions for assault (all methods)
-- description: Emergency admissions of residents for assault by any means, for
--   context to the sharp-object measure.
-- priority: Violence and serious violence
-- basis: Serious Violence Duty (data sharing with health)
-- source: NHS Hospital Episode Statistics, ICD-10 X85-Y09
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
GROUP BY date_trunc('month', admission_date), district_code
