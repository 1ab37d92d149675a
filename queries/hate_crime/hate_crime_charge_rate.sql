-- id: hate_crime_charge_rate
-- title: Hate crimes charged or summonsed (%)
-- description: Share of hate crimes with a charge or summons (Home Office outcome 1).
-- theme: Hate crime
-- priority: Hate crime
-- basis: Lancashire Hate Crime Strategy
-- source: Home Office crime outcomes framework
-- sources: force_crime
-- unit: percentage
-- denominator: none
-- polarity: higher is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       SUM(CASE WHEN outcome_code = 1 THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM force_crime
WHERE district_code IS NOT NULL
  AND (hate_race OR hate_religion OR hate_sexual_orientation OR hate_disability OR hate_transgender)
GROUP BY 1, 2
