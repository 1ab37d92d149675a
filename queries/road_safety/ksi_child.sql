-- id: ksi_child
-- title: Children (0-15) killed or seriously injured on the roads
--   (severity-adjusted)
-- description: Casualties aged 0-15, fatal plus severity-adjusted serious.
-- priority: Road safety
-- basis: DfT Road Safety Statement; Highways Act 1980 s39
-- source: DfT STATS19; DfT severity adjustment methodology
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
WHERE age BETWEEN 0 AND 15
GROUP BY month, district_code
