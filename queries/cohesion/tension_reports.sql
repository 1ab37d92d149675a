-- id: tension_reports
-- title: Community tension reports
-- description: All community tension reports received.
-- priority: Community cohesion and tension
-- basis: Lancashire Community Cohesion framework
-- source: Council community tension monitoring
-- tables: community_tension_reports
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', report_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM community_tension_reports
WHERE district_code IS NOT NULL
GROUP BY date_trunc('month', report_date), district_code
