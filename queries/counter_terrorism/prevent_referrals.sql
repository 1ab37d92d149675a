-- id: prevent_referrals
-- title: Prevent referrals
-- description: Referrals to Prevent. Tiny counts: always suppressed below the
--   threshold in public outputs.
-- priority: Counter terrorism
-- basis: Counter-Terrorism and Security Act 2015 s26 (Prevent duty)
-- source: Home Office Individuals referred to Prevent (financial year)
-- tables: prevent_referrals
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', referral_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM prevent_referrals
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', referral_date), district_code
