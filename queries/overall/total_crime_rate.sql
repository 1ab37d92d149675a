-- id: total_crime_rate
-- title: Total recorded crime per 1,000 people
-- description: Crimes on data.police.uk (excluding ASB) per 1,000 residents.
-- theme: Overall
-- priority: Overall crime
-- basis: Crime and Disorder Act 1998 s17
-- source: data.police.uk street-level crime (OGL v3.0)
-- sources: police_uk_street, ons_lsoa_lookup, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: lower is better
-- target: -3% vs sply
-- tolerance: 1%
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT s.month,
       l.lad_code AS area_code,
       COUNT(*) AS numerator
FROM police_uk_street s
JOIN ons_lsoa_lookup l ON l.lsoa_code = s.lsoa_code
WHERE s.crime_type <> 'Anti-social behaviour'
GROUP BY s.month, l.lad_code
