-- id: community_trigger_activations
-- title: Community Trigger (ASB case review) activations
-- description: ASB case reviews activated under s104 of the 2014 Act.
-- priority: Anti-social behaviour
-- basis: Anti-social Behaviour, Crime and Policing Act 2014 s104
-- source: Home Office ASB case review statutory guidance
-- tables: asb_cases
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', opened_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM asb_cases
WHERE district_code IS NOT NULL
  AND community_trigger
GROUP BY date_trunc('month', opened_date), district_code
