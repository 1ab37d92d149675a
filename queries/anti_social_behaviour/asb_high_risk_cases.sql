-- id: asb_high_risk_cases
-- title: High-risk ASB cases opened
-- description: Council ASB cases assessed as high risk.
-- priority: Anti-social behaviour
-- basis: Anti-social Behaviour, Crime and Policing Act 2014
-- source: Council ASB case management system
-- tables: asb_cases
-- unit: count
-- polarity: lower is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', opened_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM asb_cases
WHERE district_code IS NOT NULL
  AND risk_level = 'High'
GROUP BY date_trunc('month', opened_date), district_code
