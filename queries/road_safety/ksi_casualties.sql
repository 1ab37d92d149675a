-- id: ksi_casualties
-- title: Killed or seriously injured road casualties (severity-adjusted)
-- description: Fatal casualties plus the DfT severity-adjusted probability
--   of serious injury, by month of collision and district. Where a release
--   has no adjustment, reported serious casualties count as 1.
-- theme: Road safety
-- priority: Road safety
-- unit: count
-- polarity: lower is better
-- calendar: calendar year
-- sources: stats19_casualty, stats19_collision
-- basis: DfT STATS19 (OGL v3.0); DfT severity adjustment methodology
SELECT month,
       district_code AS area_code,
       SUM(ksi) AS numerator
FROM road_casualty_ksi
GROUP BY 1, 2
