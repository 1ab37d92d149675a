-- id: road_fatalities
-- title: Road deaths
-- description: People killed in reported road collisions (severity 1). Small numbers:
--   suppressed in public outputs.
-- theme: Road safety
-- priority: Road safety
-- basis: Highways Act 1980 s39
-- source: DfT STATS19
-- sources: stats19_casualty, stats19_collision
-- unit: count
-- denominator: none
-- polarity: lower is better
-- frequency: monthly
-- calendar: calendar year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', c.date) AS month,
       c.local_authority_ons_district AS area_code,
       COUNT(*) AS numerator
FROM stats19_casualty k
JOIN stats19_collision c ON c.collision_index = k.collision_index
WHERE k.casualty_severity = 1
GROUP BY 1, 2
