-- id: safe_accommodation_referrals
-- title: Referrals to domestic abuse safe accommodation
-- description: Referrals to safe accommodation services under Part 4 of the
--   Domestic Abuse Act 2021.
-- priority: Domestic abuse
-- basis: Domestic Abuse Act 2021 Part 4
-- source: DLUHC Domestic Abuse Act Part 4 annual return
-- tables: safe_accommodation_referrals
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', referral_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM safe_accommodation_referrals
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', referral_date), district_code
