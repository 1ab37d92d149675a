-- id: asb_rate
-- title: Anti-social behaviour incidents per 1,000 people
-- description: ASB incidents recorded by the police (police.uk) per 1,000 residents.
--   Seasonal: compare with the same period last year.
-- theme: Anti social behaviour
-- priority: Anti-social behaviour
-- basis: Anti-social Behaviour, Crime and Policing Act 2014
-- source: data.police.uk street-level crime (OGL v3.0)
-- sources: police_uk_street, ons_lsoa_lookup, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: lower is better
-- target: -5% vs sply
-- tolerance: 2%
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT s.month,
       l.lad_code AS area_code,
       COUNT(*) AS numerator
FROM police_uk_street s
JOIN ons_lsoa_lookup l ON l.lsoa_code = s.lsoa_code
WHERE s.crime_type = 'Anti-social behaviour'
GROUP BY s.month, l.lad_code
