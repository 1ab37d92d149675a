//! DfT STATS19 road casualty statistics: collision, vehicle and casualty files
//! (`dft-road-casualty-statistics-<table>-<year>.csv`).
//!
//! Current releases name the key `collision_*`; older ones `accident_*`. Both
//! land under the current names. Columns DfT added later (injury-based
//! reporting, severity adjustment) are optional so that older years still
//! land, with nulls where the release had nothing. Codes stay codes (`-1`
//! means missing, as DfT publishes it); `NULL` text is null.

use std::path::Path;

use super::files::InputFile;
use super::typed_csv::{PartitionBy, TypedCsv};
use crate::schema::{Column, ColumnType};

/// The three STATS19 tables and their lake names.
pub const TABLES: [(&str, &str); 3] = [
    ("collision", "stats19_collision"),
    ("vehicle", "stats19_vehicle"),
    ("casualty", "stats19_casualty"),
];

const KEY_ALIASES: [(&str, &str); 4] = [
    ("accident_index", "collision_index"),
    ("accident_year", "collision_year"),
    ("accident_reference", "collision_ref_no"),
    ("accident_severity", "collision_severity"),
];

const COLLISION_TEXT: [&str; 6] = [
    "collision_index",
    "collision_ref_no",
    "local_authority_ons_district",
    "local_authority_highway",
    "local_authority_highway_current",
    "lsoa_of_accident_location",
];
const COLLISION_FLOAT: [&str; 6] = [
    "location_easting_osgr",
    "location_northing_osgr",
    "longitude",
    "latitude",
    "collision_adjusted_severity_serious",
    "collision_adjusted_severity_slight",
];

/// Current collision columns, in DfT order.
pub const COLLISION_COLUMNS: [&str; 44] = [
    "collision_index",
    "collision_year",
    "collision_ref_no",
    "location_easting_osgr",
    "location_northing_osgr",
    "longitude",
    "latitude",
    "police_force",
    "collision_severity",
    "number_of_vehicles",
    "number_of_casualties",
    "date",
    "day_of_week",
    "time",
    "local_authority_district",
    "local_authority_ons_district",
    "local_authority_highway",
    "local_authority_highway_current",
    "first_road_class",
    "first_road_number",
    "road_type",
    "speed_limit",
    "junction_detail_historic",
    "junction_detail",
    "junction_control",
    "second_road_class",
    "second_road_number",
    "pedestrian_crossing_human_control_historic",
    "pedestrian_crossing_physical_facilities_historic",
    "pedestrian_crossing",
    "light_conditions",
    "weather_conditions",
    "road_surface_conditions",
    "special_conditions_at_site",
    "carriageway_hazards_historic",
    "carriageway_hazards",
    "urban_or_rural_area",
    "did_police_officer_attend_scene_of_accident",
    "trunk_road_flag",
    "lsoa_of_accident_location",
    "enhanced_severity_collision",
    "collision_injury_based",
    "collision_adjusted_severity_serious",
    "collision_adjusted_severity_slight",
];

/// Collision columns newer releases added (absent from older years).
const COLLISION_OPTIONAL: [&str; 11] = [
    "local_authority_highway_current",
    "junction_detail_historic",
    "pedestrian_crossing_human_control_historic",
    "pedestrian_crossing_physical_facilities_historic",
    "pedestrian_crossing",
    "carriageway_hazards_historic",
    "enhanced_severity_collision",
    "collision_injury_based",
    "collision_adjusted_severity_serious",
    "collision_adjusted_severity_slight",
    "junction_detail",
];

/// Current casualty columns, in DfT order.
pub const CASUALTY_COLUMNS: [&str; 23] = [
    "collision_index",
    "collision_year",
    "collision_ref_no",
    "vehicle_reference",
    "casualty_reference",
    "casualty_class",
    "sex_of_casualty",
    "age_of_casualty",
    "age_band_of_casualty",
    "casualty_severity",
    "pedestrian_location",
    "pedestrian_movement",
    "car_passenger",
    "bus_or_coach_passenger",
    "pedestrian_road_maintenance_worker",
    "casualty_type",
    "casualty_imd_decile",
    "lsoa_of_casualty",
    "enhanced_casualty_severity",
    "casualty_injury_based",
    "casualty_adjusted_severity_serious",
    "casualty_adjusted_severity_slight",
    "casualty_distance_banding",
];

const CASUALTY_OPTIONAL: [&str; 5] = [
    "enhanced_casualty_severity",
    "casualty_injury_based",
    "casualty_adjusted_severity_serious",
    "casualty_adjusted_severity_slight",
    "casualty_distance_banding",
];

/// Current vehicle columns.
pub const VEHICLE_COLUMNS: [&str; 28] = [
    "collision_index",
    "collision_year",
    "collision_ref_no",
    "vehicle_reference",
    "vehicle_type",
    "towing_and_articulation",
    "vehicle_manoeuvre",
    "vehicle_direction_from",
    "vehicle_direction_to",
    "junction_location",
    "skidding_and_overturning",
    "hit_object_in_carriageway",
    "vehicle_leaving_carriageway",
    "hit_object_off_carriageway",
    "first_point_of_impact",
    "vehicle_left_hand_drive",
    "journey_purpose_of_driver",
    "sex_of_driver",
    "age_of_driver",
    "age_band_of_driver",
    "engine_capacity_cc",
    "propulsion_code",
    "age_of_vehicle",
    "generic_make_model",
    "driver_imd_decile",
    "lsoa_of_driver",
    "escooter_flag",
    "driver_distance_banding",
];

/// Vehicle columns that come and go between releases (older releases have
/// `*_historic` variants, newer drop or add flags).
const VEHICLE_OPTIONAL: [&str; 6] = [
    "vehicle_manoeuvre_historic",
    "vehicle_location_restricted_lane_historic",
    "vehicle_location_restricted_lane",
    "journey_purpose_of_driver_historic",
    "escooter_flag",
    "driver_distance_banding",
];

fn typed(names: &[&str], text: &[&str], float: &[&str]) -> Vec<Column> {
    names
        .iter()
        .map(|n| {
            let ty = if text.contains(n) || n.starts_with("lsoa_") || *n == "generic_make_model" {
                ColumnType::String
            } else if float.contains(n) || n.contains("adjusted_severity") {
                ColumnType::Float
            } else if *n == "date" {
                ColumnType::Date
            } else if *n == "time" {
                ColumnType::String
            } else {
                ColumnType::Int
            };
            let mut c = Column::new(n, ty);
            if *n == "date" {
                c.format = Some("%d/%m/%Y".into());
            }
            if matches!(*n, "collision_index" | "collision_year") {
                c.required = true;
            }
            c
        })
        .collect()
}

/// The layout of one STATS19 table.
pub fn format(table: &str) -> Option<TypedCsv> {
    let (names, optional): (Vec<&str>, &[&str]) = match table {
        "collision" => (COLLISION_COLUMNS.to_vec(), &COLLISION_OPTIONAL),
        "casualty" => (CASUALTY_COLUMNS.to_vec(), &CASUALTY_OPTIONAL),
        "vehicle" => {
            let mut v = VEHICLE_COLUMNS.to_vec();
            v.extend(
                VEHICLE_OPTIONAL
                    .iter()
                    .filter(|o| !VEHICLE_COLUMNS.contains(o)),
            );
            (v, &VEHICLE_OPTIONAL)
        }
        _ => return None,
    };
    let mut f = TypedCsv::new(typed(&names, &COLLISION_TEXT, &COLLISION_FLOAT))
        .with_optional(optional)
        .with_null_tokens(&["NULL"])
        .with_partition(PartitionBy::Year("collision_year".into()));
    for (old, new) in KEY_ALIASES {
        f = f.with_alias(old, new);
    }
    if table == "collision" {
        f = f
            .with_month_column("date")
            .with_year_rule("collision_year", Some("date"));
    } else {
        f = f.with_year_rule("collision_year", None);
    }
    Some(f)
}

/// Which table a STATS19 file holds, from its name, and its input unit.
/// Accepts `dft-road-casualty-statistics-collision-2023.csv` and the
/// multi-year `...-collision-last-5-years.csv` / `...-1979-latest-published-year.csv`.
pub fn classify(path: &Path) -> Option<(&'static str, InputFile)> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let stem = name.strip_suffix(".csv")?;
    let rest = stem.strip_prefix("dft-road-casualty-statistics-")?;
    for (table, dataset) in TABLES {
        // The table name must be followed by '-' (so `vehicle` never matches
        // a future `vehicles-extra` table).
        if let Some(tail) = rest.strip_prefix(table).and_then(|t| t.strip_prefix('-')) {
            return Some((
                dataset,
                InputFile {
                    path: path.to_path_buf(),
                    unit: format!("{table}-{tail}"),
                    group: "all".into(),
                },
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_file_names() {
        let (ds, f) = classify(Path::new(
            "x/dft-road-casualty-statistics-casualty-2023.csv",
        ))
        .unwrap();
        assert_eq!(ds, "stats19_casualty");
        assert_eq!(f.unit, "casualty-2023");
        assert!(
            classify(Path::new(
                "dft-road-casualty-statistics-vehicle-last-5-years.csv"
            ))
            .is_some()
        );
        assert!(classify(Path::new("other.csv")).is_none());
    }

    #[test]
    fn collision_layout_types() {
        let f = format("collision").unwrap();
        let cols = f.columns();
        assert_eq!(cols.len(), 44);
        let ty = |n: &str| cols.iter().find(|c| c.name == n).unwrap().ty;
        assert_eq!(ty("date"), ColumnType::Date);
        assert_eq!(ty("collision_index"), ColumnType::String);
        assert_eq!(ty("collision_severity"), ColumnType::Int);
        assert_eq!(ty("collision_adjusted_severity_serious"), ColumnType::Float);
        assert_eq!(ty("lsoa_of_accident_location"), ColumnType::String);
    }
}
