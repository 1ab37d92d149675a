-- id: ocg_disruptions
-- title: Organised crime group disruptions
-- description: Recorded disruptions of organised crime groups (major, moderate,
--   minor). More disruption is better.
-- priority: Serious organised crime
-- basis: Serious and Organised Crime Strategy 2023
-- source: Home Office SOC Strategy; force OCG mapping
-- tables: ocg_disruptions
-- unit: count
-- polarity: higher is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', disruption_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM ocg_disruptions
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', disruption_date), district_code
