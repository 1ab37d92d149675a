-- id: violence_and_sexual_offences
-- title: Violence and sexual offences
-- description: Crimes in the police.uk category "Violence and sexual offences".
-- theme: Violence
-- priority: Violence and serious violence
-- unit: count
-- polarity: lower is better
-- sources: police_uk_street, ons_lsoa_lookup
-- basis: Serious Violence Duty (PCSC Act 2022); data.police.uk
SELECT s.month,
       l.lad_code AS area_code,
       COUNT(*) AS numerator
FROM police_uk_street s
JOIN ons_lsoa_lookup l ON l.lsoa_code = s.lsoa_code
WHERE s.crime_type = 'Violence and sexual offences'
GROUP BY s.month, l.lad_code
