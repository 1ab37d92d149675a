-- id: marac_repeat_rate
-- title: MARAC repeat cases (%)
-- description: Share of MARAC cases that are repeats within 12 months. SafeLives
--   expects 28-40%: too low can mean repeats are missed.
-- priority: Domestic abuse
-- basis: SafeLives MARAC guidance
-- source: SafeLives MARAC national dataset
-- tables: marac_cases
-- unit: percentage
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', referral_date) AS month,
       district_code AS area_code,
       SUM(CASE WHEN repeat_case THEN 1 ELSE 0 END) AS numerator,
       COUNT(*) AS denominator
FROM marac_cases
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', referral_date), district_code
