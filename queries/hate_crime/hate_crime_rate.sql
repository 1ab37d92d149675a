-- id: hate_crime_rate
-- title: Hate crimes per 1,000 people
-- description: Crimes with at least one hate strand per 1,000 residents. Monitored:
--   more reporting can mean more confidence.
-- theme: Hate crime
-- priority: Hate crime
-- basis: Lancashire Hate Crime Strategy; Crime and Disorder Act 1998 ss28-32
-- source: Home Office Hate crime, England and Wales (financial year)
-- sources: force_crime, ons_population
-- unit: rate per 1,000
-- denominator: all people
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', recorded_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM force_crime
WHERE district_code IS NOT NULL
  AND (hate_race OR hate_religion OR hate_sexual_orientation OR hate_disability OR hate_transgender)
GROUP BY 1, 2
