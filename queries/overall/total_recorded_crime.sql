-- id: total_recorded_crime
-- title: Total recorded crime
-- description: Crimes recorded by Lancashire Constabulary and published on
--   data.police.uk, excluding anti-social behaviour incidents, by the district of
--   the LSOA where they occurred.
-- priority: Overall crime
-- group: Total recorded crime
-- basis: Crime and Disorder Act 1998 s17; data.police.uk street-level crime (OGL
--   v3.0)
-- source: data.police.uk street-level crime (OGL v3.0)
-- tables: police_uk_by_district
-- unit: count
-- polarity: lower is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM police_uk_by_district
WHERE crime_type <> 'Anti-social behaviour'
GROUP BY month, district_code
