-- id: tension_reports_elevated
-- title: Community tension reports at elevated level or above
-- description: Reports assessed as Elevated, High or Critical.
-- theme: Cohesion
-- priority: Community cohesion and tension
-- basis: Lancashire Community Cohesion framework
-- source: Council community tension monitoring
-- sources: community_tension_reports
-- unit: count
-- denominator: none
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
  AND (tension_level IN ('Elevated', 'High', 'Critical'))
GROUP BY 1, 2
