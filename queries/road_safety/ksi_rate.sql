-- id: ksi_rate
-- title: Killed or seriously injured casualties per 100,000 people
-- description: Severity-adjusted KSI casualties per 100,000 residents of the district
--   where the collision happened.
-- theme: Road safety
-- priority: Road safety
-- basis: Highways Act 1980 s39
-- source: DfT STATS19; DfT RAS0403 methodology
-- sources: stats19_casualty, stats19_collision, ons_population
-- unit: rate per 100,000
-- denominator: all people
-- polarity: lower is better
-- frequency: monthly
-- calendar: calendar year
-- disclosure: public
-- owner: Community Safety Performance Team
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
WHERE TRUE
GROUP BY 1, 2
