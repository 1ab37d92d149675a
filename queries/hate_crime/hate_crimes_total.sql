-- id: hate_crimes_total
-- title: Hate crimes (all strands)
-- description: Crimes flagged with at least one of the five monitored hate
--   strands. A crime with two strands counts once here.
-- theme: Hate crime
-- priority: Hate crime
-- unit: count
-- polarity: monitor
-- sources: force_crime
-- basis: Lancashire Hate Crime Strategy; Home Office hate crime flags
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE (hate_race OR hate_religion OR hate_sexual_orientation
       OR hate_disability OR hate_transgender)
  AND district_code IS NOT NULL
GROUP BY 1, 2
