-- id: hate_crime_rate
-- title: Hate crimes per 1,000 people
-- description: Crimes with at least one hate strand per 1,000 residents. Monitored:
--   more reporting can mean more confidence.
-- priority: Hate crime
-- group: Hate crimes
-- basis: Lancashire Hate Crime Strategy; Crime and Disorder Act 1998 ss28-32
-- source: Home Office Hate crime, England and Wales (financial year)
-- tables: hate_crimes, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM hate_crimes
GROUP BY month, district_code
