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
SELECT date_trunc('month', c.date) AS month,
       c.local_authority_ons_district AS area_code,
       SUM(CASE
             WHEN k.casualty_severity = 1 THEN 1.0
             WHEN k.casualty_adjusted_severity_serious IS NOT NULL
               THEN k.casualty_adjusted_severity_serious
             WHEN k.casualty_severity = 2 THEN 1.0
             ELSE 0.0
           END) AS numerator
FROM stats19_casualty k
JOIN stats19_collision c ON c.collision_index = k.collision_index
GROUP BY 1, 2
