-- view: hate_crimes
-- description: Force-recorded crimes flagged with at least one of the five monitored
--   hate strands (race, religion, sexual orientation, disability, transgender
--   identity), with their month and district. A crime with several strands is one
--   row here; each strand is a yes/no column.
-- tables: force_crime
-- source: Home Office hate crime monitored strands
SELECT date_trunc('month', recorded_date) AS month,
       district_code,
       crime_id,
       hate_race,
       hate_religion,
       hate_sexual_orientation,
       hate_disability,
       hate_transgender,
       repeat_victim,
       outcome_code
FROM force_crime
WHERE district_code IS NOT NULL
  AND (hate_race OR hate_religion OR hate_sexual_orientation
       OR hate_disability OR hate_transgender)
