-- id: illicit_tobacco_alcohol_seizures
-- title: Trading standards seizures of illicit tobacco, alcohol and vapes
-- description: Seizures made by trading standards. More enforcement activity is
--   better.
-- priority: Serious organised crime
-- basis: Tobacco and Related Products Regulations 2016; Licensing Act 2003
-- source: Council trading standards enforcement records
-- tables: ts_seizures
-- unit: count
-- polarity: higher is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', seizure_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM ts_seizures
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', seizure_date), district_code
