-- id: violence_and_sexual_offences
-- title: Violence and sexual offences
-- description: Crimes in the police.uk category "Violence and sexual offences".
-- priority: Violence and serious violence
-- basis: Serious Violence Duty (PCSC Act 2022); data.police.uk
-- source: data.police.uk street-level crime (OGL v3.0)
-- tables: police_uk_by_district
-- unit: count
-- polarity: lower is better
-- frequency: monthly
-- calendar: financial year
-- disclosure: public
-- owner: Community Safety Performance Team
SELECT month,
       district_code AS area_code,
       COUNT(*) AS numerator
FROM police_uk_by_district
WHERE crime_type = 'Violence and sexual offences'
GROUP BY month, district_code
