-- id: marac_cases_rate
-- title: MARAC cases per 10,000 females aged 16+
-- description: Cases heard at Multi-Agency Risk Assessment Conferences per 10,000
--   females aged 16 and over, the population SafeLives publishes against. SafeLives
--   recommends about 40 a year; reaching more high-risk victims is better.
-- priority: Domestic abuse
-- basis: Domestic Abuse Act 2021; SafeLives MARAC guidance
-- source: SafeLives MARAC national dataset: recommended 40 cases per 10,000 adult
--   females
-- tables: marac_cases, ons_population
-- unit: rate per 10,000
-- denominator: females aged 16+
-- polarity: higher is better
-- target: 40
-- tolerance: 10%
-- target_period: financial year
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', referral_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM marac_cases
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', referral_date), district_code
