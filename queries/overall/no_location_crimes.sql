-- id: no_location_crimes
-- title: Crimes published without a location (data quality)
-- description: police.uk rows with no location, which cannot be placed in a
--   district and are left out of district figures. Internal data quality check.
-- priority: Overall crime
-- basis: Data quality
-- source: data.police.uk
-- tables: police_uk_street
-- unit: count
-- polarity: monitor
-- frequency: monthly
-- calendar: financial year
-- disclosure: internal
-- owner: Community Safety Performance Team
SELECT month,
       'E23000003' AS area_code,
       COUNT(*) AS numerator
FROM police_uk_street
WHERE lsoa_code IS NULL
GROUP BY month
