-- id: ksi_rate
-- title: Killed or seriously injured casualties per 100,000 people
-- description: Severity-adjusted KSI casualties per 100,000 residents of the
--   district where the collision happened.
-- priority: Road safety
-- group: Killed or seriously injured
-- basis: Highways Act 1980 s39
-- source: DfT STATS19; DfT RAS0403 methodology
-- tables: road_casualty_ksi, ons_population
-- unit: rate per 100,000
-- denominator: all people
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
