-- id: hate_transgender
-- title: Hate crimes: transgender identity
-- description: Crimes flagged with the transgender identity strand. One crime can
--   carry several strands, so the five strands add to more than the total.
-- priority: Hate crime
-- group: Hate crime by strand
-- basis: Lancashire Hate Crime Strategy; CPS hate crime guidance
-- source: Home Office hate crime monitored strands
-- tables: hate_crimes
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM hate_crimes
WHERE hate_transgender
GROUP BY month, district_code
