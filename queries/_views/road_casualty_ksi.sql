-- view: road_casualty_ksi
-- description: Road casualties with the month and district of their collision and the
--   DfT severity-adjusted KSI weight, so the road-safety indicators count KSI the
--   same way. A fatal casualty counts 1. Any other casualty counts the probability
--   DfT gives that it was serious (casualty_adjusted_severity_serious), so a
--   reported slight casualty may count a little; releases without the adjustment
--   count a reported serious casualty as 1 and a slight one as 0.
-- tables: stats19_casualty, stats19_collision
-- basis_column: adjusted
-- basis_affects: ksi
-- basis_note: DfT's severity adjustment is not in the earlier releases landed, and
--   adjusted and unadjusted KSI figures must not be compared, so the series starts
--   with the first adjusted year
-- source: DfT, Guide to severity adjustments for reported road casualties
SELECT date_trunc('month', collision.date) AS month,
       collision.local_authority_ons_district AS district_code,
       casualty.age_of_casualty AS age,
       casualty.casualty_type,
       casualty.casualty_severity AS severity,
       CASE
           WHEN casualty.casualty_severity = 1 THEN 1.0                 -- fatal
           WHEN casualty.casualty_adjusted_severity_serious IS NOT NULL
               THEN casualty.casualty_adjusted_severity_serious          -- adjusted serious
           WHEN casualty.casualty_severity = 2 THEN 1.0                 -- serious, no adjustment
           ELSE 0.0                                                      -- slight
       END AS ksi,
       -- On the adjusted basis: the release gives the adjustment.
       casualty.casualty_adjusted_severity_serious IS NOT NULL AS adjusted
FROM stats19_casualty AS casualty
JOIN stats19_collision AS collision
  ON collision.collision_index = casualty.collision_index
