-- id: total_recorded_crime
-- title: Total recorded crime
-- description: Crimes recorded by Lancashire Constabulary and published on
--   data.police.uk, excluding anti-social behaviour incidents, by the
--   district of the LSOA where they occurred.
-- theme: Overall
-- priority: Overall crime
-- unit: count
-- polarity: lower is better
-- sources: police_uk_street, ons_lsoa_lookup
-- basis: Crime and Disorder Act 1998 s17; data.police.uk street-level crime (OGL v3.0)
SELECT s.month,
       l.lad_code AS area_code,
       COUNT(*) AS numerator
FROM police_uk_street s
JOIN ons_lsoa_lookup l ON l.lsoa_code = s.lsoa_code
WHERE s.crime_type <> 'Anti-social behaviour'
GROUP BY s.month, l.lad_code
