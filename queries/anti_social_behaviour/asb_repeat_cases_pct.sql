-- id: asb_repeat_cases_pct
-- title: Repeat ASB cases (%)
-- description: Share of council ASB cases that are repeats.
-- priority: Anti-social behaviour
-- basis: Anti-social Behaviour, Crime and Policing Act 2014
-- source: Council ASB case management system
-- tables: asb_cases
-- unit: percentage
-- polarity: lower is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', opened_date) AS month,
       district_code AS area_code,
       SUM(CASE WHEN repeat_case THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM asb_cases
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', opened_date), district_code
