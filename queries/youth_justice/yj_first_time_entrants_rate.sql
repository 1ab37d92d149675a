-- id: yj_first_time_entrants_rate
-- title: First-time entrants to the youth justice system per 100,000 aged 10-17
-- description: Young people receiving their first caution or conviction, per
--   100,000 children aged 10-17.
-- priority: Youth justice
-- basis: Crime and Disorder Act 1998 s37 (aim of the youth justice system)
-- source: YJB first-time entrants (PNC), per 100,000 aged 10-17
-- tables: yj_first_time_entrants, ons_population
-- unit: rate per 100,000
-- denominator: 10-17 year olds
-- polarity: lower is better
-- target: 180
-- tolerance: 5%
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', entry_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM yj_first_time_entrants
WHERE district_code IS NOT NULL
  AND age BETWEEN 10
  AND 17
GROUP BY date_trunc('month', entry_date), district_code
