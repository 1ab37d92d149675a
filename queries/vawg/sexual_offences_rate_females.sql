-- id: sexual_offences_rate_females
-- title: Sexual offences per 1,000 females
-- description: Police-recorded sexual offences per 1,000 female residents.
-- priority: Violence against women and girls
-- basis: VAWG Strategy 2021; Sexual Offences Act 2003
-- source: Home Office Counting Rules for Recorded Crime; force data-sharing extract
-- tables: force_crime, ons_population
-- unit: rate per 1,000
-- denominator: females
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
  AND ho_offence_code IN ('17A', '19C', '19D', '20A', '20B', '22B', '88A', '88E')
GROUP BY date_trunc('month', recorded_date), district_code
