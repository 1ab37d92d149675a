-- id: asb_rate
-- title: Anti-social behaviour incidents per 1,000 people
-- description: ASB incidents recorded by the police (police.uk) per 1,000
--   residents. Seasonal: compare with the same period last year.
-- priority: Anti-social behaviour
-- group: Anti-social behaviour incidents
-- basis: Anti-social Behaviour, Crime and Policing Act 2014
-- source: data.police.uk street-level crime (OGL v3.0)
-- tables: police_uk_by_district, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: lower is better
-- target: -5% vs sply
-- tolerance: 2%
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
