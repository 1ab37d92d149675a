-- id: ksi_65_plus
-- title: People aged 65+ killed or seriously injured on the roads (severity-adjusted)
-- description: Casualties aged 65 and over, fatal plus severity-adjusted serious.
-- theme: Road safety
-- priority: Road safety
-- basis: Highways Act 1980 s39
-- source: DfT STATS19; DfT severity adjustment methodology
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
       SUM(CASE
             WHEN k.casualty_severity = 1 THEN 1.0
             WHEN k.casualty_adjusted_severity_serious IS NOT NULL
               THEN k.casualty_adjusted_severity_serious
             WHEN k.casualty_severity = 2 THEN 1.0
             ELSE 0.0
           END) AS numerator
FROM stats19_casualty k
JOIN stats19_collision c ON c.collision_index = k.collision_index
WHERE k.age_of_casualty >= 65
GROUP BY 1, 2
