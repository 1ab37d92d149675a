-- id: asb_incidents
-- title: Anti-social behaviour incidents
-- description: Anti-social behaviour incidents recorded by the police and
--   published on data.police.uk (rows with blank Crime ID).
-- theme: Anti-social behaviour
-- priority: Anti-social behaviour
-- unit: count
-- polarity: lower is better
-- sources: police_uk_street, ons_lsoa_lookup
-- basis: Crime and Disorder Act 1998 s17 (crime and disorder includes ASB)
SELECT s.month,
       l.lad_code AS area_code,
       COUNT(*) AS numerator
FROM police_uk_street s
JOIN ons_lsoa_lookup l ON l.lsoa_code = s.lsoa_code
WHERE s.crime_type = 'Anti-social behaviour'
GROUP BY s.month, l.lad_code
