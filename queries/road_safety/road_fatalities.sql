-- id: road_fatalities
-- title: Road deaths
-- description: People killed in reported road collisions (severity 1). Small
--   numbers: suppressed in public outputs.
-- priority: Road safety
-- basis: Highways Act 1980 s39
-- source: DfT STATS19
-- tables: road_casualty_ksi
-- unit: count
-- polarity: lower is better
-- frequency: monthly
-- calendar: calendar year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM road_casualty_ksi
WHERE severity = 1  -- killed
GROUP BY month, district_code
