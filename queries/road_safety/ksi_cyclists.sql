-- id: ksi_cyclists
-- title: Cyclists killed or seriously injured (severity-adjusted)
-- description: Pedal cyclist casualties (casualty type 1), fatal plus
--   severity-adjusted serious.
-- priority: Road safety
-- basis: Highways Act 1980 s39; Cycling and Walking Investment Strategy
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
       SUM(ksi) AS numerator
FROM road_casualty_ksi
WHERE casualty_type = 1
GROUP BY month, district_code
