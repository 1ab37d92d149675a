-- view: police_uk_by_district
-- description: data.police.uk street-level crimes and ASB with the district of the
--   LSOA where each happened (from the ONS LSOA lookup). Rows with no location, or
--   in an LSOA outside the lookup (another force's area), are left out.
-- tables: police_uk_street, ons_lsoa_lookup
-- source: data.police.uk street-level crime; ONS LSOA (2021) to local authority lookup
SELECT street.month,
       lookup.lad_code AS district_code,
       street.crime_id,
       street.crime_type,
       street.last_outcome_category,
       street.lsoa_code
FROM police_uk_street AS street
JOIN ons_lsoa_lookup AS lookup
  ON lookup.lsoa_code = street.lsoa_code
