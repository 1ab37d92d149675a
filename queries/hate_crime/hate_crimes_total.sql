-- id: hate_crimes_total
-- title: Hate crimes (all strands)
-- description: Crimes flagged with at least one of the five monitored hate strands.
--   A crime with two strands counts once here.
-- priority: Hate crime
-- group: Hate crimes
-- basis: Lancashire Hate Crime Strategy; Home Office hate crime flags
-- source: Home Office hate crime monitored strands; force data-sharing extract
-- tables: hate_crimes
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM hate_crimes
GROUP BY month, district_code
