-- id: ksi_65_plus
-- title: People aged 65+ killed or seriously injured on the roads
--   (severity-adjusted)
-- description: Casualties aged 65 and over, fatal plus severity-adjusted serious.
-- priority: Road safety
-- basis: Highways Act 1980 s39
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
WHERE age >= 65
GROUP BY month, district_code
