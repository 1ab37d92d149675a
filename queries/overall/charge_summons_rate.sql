-- id: charge_summons_rate
-- title: Crimes charged or summonsed (%)
-- description: Share of recorded crimes with a charge or summons (Home Office
--   outcome type 1).
-- priority: Overall crime
-- basis: Crime and Disorder Act 1998 s17
-- source: Home Office Crime outcomes in England and Wales
-- tables: force_crime
-- unit: percentage
-- polarity: higher is better
-- target: 8
-- tolerance: 0.5
-- frequency: monthly
-- calendar: financial year
-- provisional_months: 3
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       SUM(CASE WHEN outcome_code = 1 THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM force_crime
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', recorded_date), district_code
