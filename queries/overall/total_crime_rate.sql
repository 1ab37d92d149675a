-- id: total_crime_rate
-- title: Total recorded crime per 1,000 people
-- description: Crimes on data.police.uk (excluding ASB) per 1,000 residents.
-- priority: Overall crime
-- group: Total recorded crime
-- basis: Crime and Disorder Act 1998 s17
-- source: data.police.uk street-level crime (OGL v3.0)
-- tables: police_uk_by_district, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: lower is better
-- target: -3% vs sply
-- tolerance: 1%
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
