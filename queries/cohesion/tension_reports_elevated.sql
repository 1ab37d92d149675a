-- id: tension_reports_elevated
-- title: Community tension reports at elevated level or above
-- description: Reports assessed as Elevated, High or Critical.
-- priority: Community cohesion and tension
-- basis: Lancashire Community Cohesion framework
-- source: Council community tension monitoring
-- tables: community_tension_reports
-- unit: count
-- polarity: lower is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT date_trunc('month', report_date) AS month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM community_tension_reports
WHERE district_code IS NOT NULL
  AND tension_level IN ('Elevated', 'High', 'Critical')
GROUP BY date_trunc('month', report_date), district_code
