-- id: ksi_casualties
-- title: Killed or seriously injured road casualties (severity-adjusted)
-- description: Fatal casualties plus the DfT severity-adjusted probability of
--   serious injury, by month of collision and district. Where a release has no
--   adjustment, reported serious casualties count as 1.
-- priority: Road safety
-- group: Killed or seriously injured
-- basis: DfT STATS19 (OGL v3.0); DfT severity adjustment methodology
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
GROUP BY month, district_code
