-- id: hate_race
-- title: Hate crimes: race
-- description: Crimes flagged with the race strand. One crime can carry several
--   strands, so the five strands add to more than the total.
-- theme: Hate crime
-- priority: Hate crime
-- basis: Lancashire Hate Crime Strategy; CPS hate crime guidance
-- source: Home Office hate crime monitored strands
-- sources: force_crime
-- unit: count
-- denominator: none
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE district_code IS NOT NULL
  AND (hate_race)
GROUP BY 1, 2
