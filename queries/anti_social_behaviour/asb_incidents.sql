-- id: asb_incidents
-- title: Anti-social behaviour incidents
-- description: Anti-social behaviour incidents recorded by the police and published
--   on data.police.uk (rows whose crime type is Anti-social behaviour).
-- priority: Anti-social behaviour
-- group: Anti-social behaviour incidents
-- basis: Crime and Disorder Act 1998 s17 (crime and disorder includes ASB)
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
WHERE crime_type = 'Anti-social behaviour'
GROUP BY month, district_code
