-- id: hate_crime_charge_rate
-- title: Hate crimes charged or summonsed (%)
-- description: Share of hate crimes with a charge or summons (Home Office
--   outcome 1).
-- priority: Hate crime
-- basis: Lancashire Hate Crime Strategy
-- source: Home Office crime outcomes framework
-- tables: hate_crimes
-- unit: percentage
-- polarity: higher is better
-- frequency: monthly
-- calendar: financial year
-- provisional_months: 3
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       SUM(CASE WHEN outcome_code = 1 THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM hate_crimes
GROUP BY month, district_code
