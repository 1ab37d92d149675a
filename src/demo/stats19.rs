//! DfT STATS19 road-safety files (collision, vehicle, casualty), one set per
//! calendar year touched by the months, each a whole year.
//!
//! Lancashire (police force 4) reports through CRASH, an injury-based system,
//! so every record carries DfT's severity-adjustment probabilities; severity-
//! adjusted KSI = fatal casualties + sum of `casualty_adjusted_severity_serious`.
//! The earliest year is written with the OLD column names (`accident_*`) and
//! without the newer enhanced/adjusted columns, as DfT's older releases were,
//! so the reader's handling of both is exercised on every demo run.

use super::places::{self, LANCASHIRE_LAT, LANCASHIRE_LON};
use super::rng::Rng;
use super::{CsvOut, Error, Month, Plan, covid_factor, prob};
use crate::geography::{DISTRICTS, LANCASHIRE_12_CODE};
use chrono::Datelike;
use std::path::Path;

/// Injury collisions a year force-wide (2019 level).
const COLLISIONS_PER_YEAR: f64 = 3_000.0;

/// Seasonal multipliers Jan..Dec: darker autumn evenings peak in November.
const SEASON: [f64; 12] = [
    0.98, 0.88, 0.92, 0.90, 1.00, 1.02, 1.02, 0.98, 1.04, 1.08, 1.12, 1.06,
];

/// Collision columns, current DfT names.
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
/// Collision columns absent from old releases (the last four).
const COLLISION_NEW_FROM: usize = 40;

/// Vehicle columns, current DfT names.
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

/// Casualty columns, current DfT names.
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
/// Casualty columns absent from old releases (the last five).
const CASUALTY_NEW_FROM: usize = 18;

/// The header for a file: current names, or the old `accident_*` names with
/// the newer columns (from `new_from`) dropped.
pub fn header(columns: &[&'static str], old: bool, new_from: usize) -> Vec<&'static str> {
    if !old {
        return columns.to_vec();
    }
    columns
        .iter()
        .take(new_from)
        .map(|c| match *c {
            "collision_index" => "accident_index",
            "collision_year" => "accident_year",
            "collision_ref_no" => "accident_reference",
            "collision_severity" => "accident_severity",
            other => other,
        })
        .collect()
}

/// DfT age band code for an age (`-1` unknown).
pub fn age_band(age: i32) -> i32 {
    match age {
        0..=5 => 1,
        6..=10 => 2,
        11..=15 => 3,
        16..=20 => 4,
        21..=25 => 5,
        26..=35 => 6,
        36..=45 => 7,
        46..=55 => 8,
        56..=65 => 9,
        66..=75 => 10,
        76.. => 11,
        _ => -1,
    }
}

/// Age ranges of the DfT bands 1..=11 (band 11 capped at 95).
const BANDS: [(i32, i32); 11] = [
    (0, 5),
    (6, 10),
    (11, 15),
    (16, 20),
    (21, 25),
    (26, 35),
    (36, 45),
    (46, 55),
    (56, 65),
    (66, 75),
    (76, 95),
];

/// Age-band weights for pedestrians, cyclists, motorcyclists, drivers, passengers.
const AGE_PED: [f64; 11] = [6.0, 8.0, 10.0, 9.0, 8.0, 12.0, 10.0, 10.0, 9.0, 9.0, 9.0];
const AGE_CYCLIST: [f64; 11] = [0.0, 2.0, 8.0, 8.0, 9.0, 18.0, 18.0, 18.0, 12.0, 5.0, 2.0];
const AGE_RIDER: [f64; 11] = [0.0, 0.0, 0.0, 18.0, 15.0, 20.0, 15.0, 16.0, 12.0, 4.0, 1.0];
const AGE_DRIVER: [f64; 11] = [0.0, 0.0, 0.0, 9.0, 12.0, 20.0, 17.0, 17.0, 12.0, 8.0, 5.0];
const AGE_PASSENGER: [f64; 11] = [6.0, 6.0, 7.0, 14.0, 12.0, 15.0, 11.0, 10.0, 8.0, 6.0, 5.0];

/// Pick a code by weight from `(code, weight)` pairs.
fn code(rng: &mut Rng, table: &[(i32, f64)]) -> i32 {
    let w: Vec<f64> = table.iter().map(|t| t.1).collect();
    table[rng.weighted(&w)].0
}

/// An age from band weights; drivers are at least 17.
fn age_from(rng: &mut Rng, weights: &[f64; 11], min: i32) -> i32 {
    if rng.chance(0.015) {
        return -1;
    }
    let (lo, hi) = BANDS[rng.weighted(weights)];
    rng.range(i64::from(lo.max(min)), i64::from(hi.max(min))) as i32
}

/// Motor vehicles other than two-wheelers, by share of collision involvement.
const MOTOR: [(i32, f64); 11] = [
    (9, 78.0),
    (19, 9.0),
    (8, 4.0),
    (21, 2.0),
    (20, 1.0),
    (11, 2.0),
    (10, 0.5),
    (17, 0.5),
    (90, 1.0),
    (98, 0.5),
    (22, 0.3),
];
/// Motorcycle types.
const MOTORCYCLE: [(i32, f64); 6] = [
    (2, 10.0),
    (3, 35.0),
    (4, 10.0),
    (5, 35.0),
    (97, 5.0),
    (23, 5.0),
];

const CAR_MODELS: [&str; 16] = [
    "FORD FIESTA",
    "VAUXHALL CORSA",
    "VOLKSWAGEN GOLF",
    "FORD FOCUS",
    "NISSAN QASHQAI",
    "VAUXHALL ASTRA",
    "TOYOTA YARIS",
    "BMW 1 SERIES",
    "MERCEDES A CLASS",
    "KIA SPORTAGE",
    "PEUGEOT 208",
    "HONDA CIVIC",
    "SKODA OCTAVIA",
    "AUDI A3",
    "NISSAN JUKE",
    "VOLKSWAGEN POLO",
];
const VAN_MODELS: [&str; 4] = [
    "FORD TRANSIT",
    "VAUXHALL VIVARO",
    "MERCEDES SPRINTER",
    "CITROEN BERLINGO",
];
const BIKE_MODELS: [&str; 5] = [
    "HONDA CBF125",
    "YAMAHA YBR 125",
    "KAWASAKI Z900",
    "TRIUMPH STREET TRIPLE",
    "LEXMOTO ISCA",
];

/// Road numbers by class in and around Lancashire.
const MOTORWAYS: [i32; 5] = [6, 55, 61, 65, 58];
const A_ROADS: [i32; 18] = [
    6, 59, 583, 584, 585, 586, 565, 56, 58, 49, 587, 588, 666, 671, 675, 680, 682, 683,
];
const B_ROADS: [i32; 9] = [5192, 5251, 5254, 5256, 5269, 5242, 6232, 6243, 6244];

/// Approximate (sunrise, sunset) local hours by month in Lancashire.
const DAYLIGHT: [(f64, f64); 12] = [
    (8.3, 16.3),
    (7.6, 17.3),
    (6.5, 18.2),
    (6.3, 20.1),
    (5.3, 21.0),
    (4.8, 21.6),
    (5.1, 21.5),
    (6.0, 20.6),
    (7.0, 19.4),
    (7.9, 18.2),
    (7.5, 16.4),
    (8.3, 15.9),
];

/// Collisions by hour of day (school-run and evening-commute peaks).
const HOURS: [f64; 24] = [
    1.2, 0.8, 0.6, 0.5, 0.5, 0.8, 2.0, 4.5, 6.5, 4.5, 4.2, 4.8, 5.5, 5.6, 6.0, 7.5, 8.0, 8.0, 6.5,
    4.8, 3.6, 3.0, 2.4, 1.8,
];

struct Vehicle {
    vtype: i32,
    escooter: bool,
    driver_age: Option<i32>,
    driver_sex: Option<i32>,
}

struct Casualty {
    vehicle_ref: usize,
    class: i32,
    sex: i32,
    age: i32,
    severity: i32,
    ctype: i32,
    /// Probability the casualty would be serious under DfT's adjustment.
    p_serious: f64,
    enhanced: i32,
}

struct Collision {
    month: u32,
    day: u32,
    minute_of_day: u32,
    district: usize,
    lsoa: usize,
    lon: f64,
    lat: f64,
    fields: CollisionFields,
    vehicles: Vec<Vehicle>,
    casualties: Vec<Casualty>,
}

/// Road and conditions codes, in column order.
struct CollisionFields {
    first_road_class: i32,
    first_road_number: i32,
    road_type: i32,
    speed_limit: i32,
    junction_detail: i32,
    junction_control: i32,
    second_road_class: i32,
    second_road_number: i32,
    ped_human: i32,
    ped_physical: i32,
    light: i32,
    weather: i32,
    surface: i32,
    special: i32,
    hazards: i32,
    urban: i32,
    police_attended: i32,
    trunk: i32,
}

/// Remove our own files for years outside the plan (from an earlier run).
fn remove_stale(years: &[i32], dir: &Path) -> Result<(), Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut stale = Vec::new();
    for e in entries {
        let e = e.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = e.file_name().to_string_lossy().into_owned();
        for kind in ["collision", "vehicle", "casualty"] {
            let prefix = format!("dft-road-casualty-statistics-{kind}-");
            if let Some(y) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".csv"))
                .and_then(|y| y.parse::<i32>().ok())
                && !years.contains(&y)
            {
                stale.push(dir.join(&name));
            }
        }
    }
    stale.sort();
    for p in stale {
        std::fs::remove_file(&p).map_err(|source| Error::Io { path: p, source })?;
    }
    Ok(())
}

/// Write the three files for every touched year; the earliest uses old names.
pub fn write(plan: &Plan, dir: &Path) -> Result<(), Error> {
    let years = plan.stats19_years();
    remove_stale(&years, dir)?;
    let oldest = years.first().copied().unwrap_or(plan.end.year);
    for y in years {
        write_year(plan, dir, y, y == oldest)?;
    }
    Ok(())
}

/// District shares of collisions: population times road exposure.
fn district_shares() -> Vec<f64> {
    let raw: Vec<f64> = DISTRICTS
        .iter()
        .map(|d| f64::from(d.population) * places::shape(d).road_rate)
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|r| r / total).collect()
}

fn write_year(plan: &Plan, dir: &Path, year: i32, old: bool) -> Result<(), Error> {
    let mut rng = Rng::stream(plan.seed, "stats19", year as u64);
    let shares = district_shares();
    let trend = (1.0 - 0.02 * (f64::from(year) - 2019.0)).clamp(0.6, 1.4);
    let mut collisions = Vec::new();
    for month in 1..=12u32 {
        let m = Month { year, month };
        // Lockdown emptied the roads: reuse the crime dip, deepened.
        let covid = covid_factor(m).0;
        let covid = 1.0 - (1.0 - covid) * 2.2;
        for (d, share) in shares.iter().enumerate() {
            let lambda = COLLISIONS_PER_YEAR / 12.0
                * share
                * SEASON[(month - 1) as usize]
                * trend
                * covid.max(0.3);
            let n = rng.poisson(lambda);
            for _ in 0..n {
                collisions.push(collision(plan, &mut rng, m, d));
            }
        }
    }
    collisions.sort_by_key(|c| (c.month, c.day, c.minute_of_day));

    let cpath = dir.join(format!("dft-road-casualty-statistics-collision-{year}.csv"));
    let vpath = dir.join(format!("dft-road-casualty-statistics-vehicle-{year}.csv"));
    let kpath = dir.join(format!("dft-road-casualty-statistics-casualty-{year}.csv"));
    let mut cout = CsvOut::create(&cpath)?;
    let mut vout = CsvOut::create(&vpath)?;
    let mut kout = CsvOut::create(&kpath)?;
    cout.row(header(&COLLISION_COLUMNS, old, COLLISION_NEW_FROM))?;
    vout.row(header(&VEHICLE_COLUMNS, old, VEHICLE_COLUMNS.len()))?;
    kout.row(header(&CASUALTY_COLUMNS, old, CASUALTY_NEW_FROM))?;

    let mut reference = rng.range(100_000, 140_000);
    for c in &collisions {
        reference += rng.range(1, 3);
        let ref_no = format!("04{reference:07}");
        let index = format!("{year}{ref_no}");
        let key = [index, year.to_string(), ref_no];
        let mut row = collision_row(plan, c, &key, year);
        if old {
            row.truncate(COLLISION_NEW_FROM);
        }
        cout.row(row)?;
        for (vi, v) in c.vehicles.iter().enumerate() {
            vout.row(vehicle_row(plan, &mut rng, c, vi, v, &key))?;
        }
        for (ki, k) in c.casualties.iter().enumerate() {
            let mut row = casualty_row(plan, &mut rng, c, ki, k, &key);
            if old {
                row.truncate(CASUALTY_NEW_FROM);
            }
            kout.row(&row)?;
        }
    }
    cout.finish()?;
    vout.finish()?;
    kout.finish()
}

/// Generate one collision in district `d`, month `m`.
fn collision(plan: &Plan, rng: &mut Rng, m: Month, d: usize) -> Collision {
    let cat = &plan.catalogue;
    let sh = places::shape(&DISTRICTS[d]);
    let lsoa = cat.sample_lsoa(d, rng);
    let l = &cat.lsoas[lsoa];
    let lon = (l.lon + rng.uniform(-0.01, 0.01)).clamp(LANCASHIRE_LON.0, LANCASHIRE_LON.1);
    let lat = (l.lat + rng.uniform(-0.006, 0.006)).clamp(LANCASHIRE_LAT.0, LANCASHIRE_LAT.1);
    let day = rng.range(1, i64::from(m.days())) as u32;
    let hour = rng.weighted(&HOURS) as u32;
    let minute = if rng.chance(0.3) {
        15 * rng.below(4) as u32
    } else {
        rng.below(60) as u32
    };
    let fields = conditions(rng, m, hour, sh.urban);
    let rural_speed = fields.speed_limit >= 50;

    // Scenario: car-only, single vehicle, pedestrian, cycle, motorcycle, multi.
    let scenario = rng.weighted(&[45.0, 12.0, 16.0, 12.0, 9.0, 6.0]);
    let motor = |rng: &mut Rng| Vehicle {
        vtype: code(rng, &MOTOR),
        escooter: false,
        driver_age: None,
        driver_sex: None,
    };
    let mut vehicles = Vec::new();
    match scenario {
        0 => {
            vehicles.push(motor(rng));
            vehicles.push(motor(rng));
        }
        1 | 2 => vehicles.push(motor(rng)),
        3 => {
            let escooter = rng.chance(0.06);
            vehicles.push(Vehicle {
                vtype: if escooter { 90 } else { 1 },
                escooter,
                driver_age: None,
                driver_sex: None,
            });
            if rng.chance(0.8) {
                vehicles.push(motor(rng));
            }
        }
        4 => {
            vehicles.push(Vehicle {
                vtype: code(rng, &MOTORCYCLE),
                escooter: false,
                driver_age: None,
                driver_sex: None,
            });
            if rng.chance(0.75) {
                vehicles.push(motor(rng));
            }
        }
        _ => {
            let n = rng.range(3, 5);
            for _ in 0..n {
                vehicles.push(motor(rng));
            }
        }
    }

    let mut casualties = Vec::new();
    let mut push = |rng: &mut Rng, vehicles: &mut Vec<Vehicle>, vref: usize, class: i32| {
        let vtype = vehicles[vref].vtype;
        let ctype = if class == 3 { 0 } else { vtype };
        let (weights, min_age, male) = match (class, ctype) {
            (3, _) => (&AGE_PED, 0, 0.55),
            (1, 1) | (1, 90) => (&AGE_CYCLIST, 6, 0.8),
            (1, 2..=5 | 23 | 97) => (&AGE_RIDER, 16, 0.92),
            (1, _) => (&AGE_DRIVER, 17, 0.6),
            _ => (&AGE_PASSENGER, 0, 0.45),
        };
        let age = age_from(rng, weights, min_age);
        let sex = if rng.chance(0.005) {
            9
        } else if rng.chance(male) {
            1
        } else {
            2
        };
        if class == 1 {
            vehicles[vref].driver_age = Some(age);
            vehicles[vref].driver_sex = Some(sex);
        }
        let (pf, ps) = match ctype {
            0 => (0.03, 0.30),
            1 | 90 => (0.01, 0.28),
            2..=5 | 23 | 97 => (0.03, 0.36),
            10 | 11 => (0.002, 0.08),
            _ => (0.007, 0.12),
        };
        let (pf, ps) = if rural_speed {
            (pf * 1.7, ps * 1.2)
        } else {
            (pf, ps)
        };
        let r = rng.f64();
        let severity = if r < pf {
            1
        } else if r < pf + ps {
            2
        } else {
            3
        };
        let (p_serious, enhanced) = match severity {
            1 => (1.0, 1),
            2 => (1.0, code(rng, &[(5, 20.0), (6, 35.0), (7, 45.0)])),
            _ => {
                let u = rng.f64();
                (0.3 * u * u * u, 3)
            }
        };
        casualties.push(Casualty {
            vehicle_ref: vref,
            class,
            sex,
            age,
            severity,
            ctype,
            p_serious,
            enhanced,
        });
    };
    match scenario {
        2 => {
            push(rng, &mut vehicles, 0, 3);
            if rng.chance(0.08) {
                push(rng, &mut vehicles, 0, 3);
            }
        }
        3 | 4 => {
            push(rng, &mut vehicles, 0, 1);
            if scenario == 4 && rng.chance(0.08) {
                push(rng, &mut vehicles, 0, 2);
            }
            if vehicles.len() > 1 && rng.chance(0.05) {
                push(rng, &mut vehicles, 1, 1);
            }
        }
        _ => {
            let n = 1 + rng.weighted(&[70.0, 20.0, 7.0, 2.0, 1.0]);
            let mut has_driver = vec![false; vehicles.len()];
            for _ in 0..n {
                let v = rng.below(vehicles.len() as u64) as usize;
                let class = if !has_driver[v] && rng.chance(0.75) {
                    has_driver[v] = true;
                    1
                } else {
                    2
                };
                push(rng, &mut vehicles, v, class);
            }
        }
    }
    Collision {
        month: m.month,
        day,
        minute_of_day: hour * 60 + minute,
        district: d,
        lsoa,
        lon,
        lat,
        fields,
        vehicles,
        casualties,
    }
}

/// Road, junction, light, weather and surface codes for one collision.
fn conditions(rng: &mut Rng, m: Month, hour: u32, urban_share: f64) -> CollisionFields {
    let mut urban = if rng.chance(urban_share) { 1 } else { 2 };
    let first_road_class = if urban == 1 {
        code(
            rng,
            &[
                (1, 1.0),
                (2, 0.2),
                (3, 40.0),
                (4, 10.0),
                (5, 6.0),
                (6, 42.8),
            ],
        )
    } else {
        code(
            rng,
            &[
                (1, 8.0),
                (2, 0.5),
                (3, 50.0),
                (4, 14.0),
                (5, 13.0),
                (6, 14.5),
            ],
        )
    };
    let motorway = first_road_class <= 2;
    if motorway {
        urban = 2;
    }
    let first_road_number = match first_road_class {
        1 => *rng.pick(&MOTORWAYS),
        2 => 601,
        3 => *rng.pick(&A_ROADS),
        4 => *rng.pick(&B_ROADS),
        _ => 0,
    };
    let road_type = if motorway {
        code(rng, &[(3, 85.0), (7, 15.0)])
    } else if first_road_class == 3 {
        code(rng, &[(6, 70.0), (3, 20.0), (1, 8.0), (2, 2.0)])
    } else {
        code(rng, &[(6, 85.0), (2, 5.0), (1, 5.0), (9, 5.0)])
    };
    let speed_limit = if motorway {
        70
    } else if rng.chance(0.002) {
        -1
    } else if urban == 1 {
        code(
            rng,
            &[
                (30, 68.0),
                (20, 12.0),
                (40, 12.0),
                (50, 4.0),
                (60, 3.0),
                (70, 1.0),
            ],
        )
    } else {
        code(
            rng,
            &[
                (60, 50.0),
                (30, 15.0),
                (40, 12.0),
                (50, 13.0),
                (70, 8.0),
                (20, 2.0),
            ],
        )
    };
    let junction_detail = if motorway {
        code(rng, &[(0, 80.0), (5, 20.0)])
    } else {
        code(
            rng,
            &[
                (0, 40.0),
                (1, 8.0),
                (2, 2.0),
                (3, 30.0),
                (5, 1.0),
                (6, 9.0),
                (7, 1.0),
                (8, 4.0),
                (9, 4.0),
                (99, 1.0),
            ],
        )
    };
    let at_junction = junction_detail != 0;
    let junction_control = if at_junction {
        code(rng, &[(1, 0.5), (2, 15.0), (3, 1.0), (4, 80.0), (9, 3.5)])
    } else {
        -1
    };
    let second_road_class = if at_junction {
        code(rng, &[(3, 20.0), (4, 8.0), (5, 8.0), (6, 64.0)])
    } else {
        -1
    };
    let second_road_number = match second_road_class {
        3 => *rng.pick(&A_ROADS),
        4 => *rng.pick(&B_ROADS),
        -1 => -1,
        _ => 0,
    };
    let ped_human = code(rng, &[(0, 96.0), (1, 0.5), (2, 0.5), (9, 2.0), (-1, 1.0)]);
    let ped_physical = code(
        rng,
        &[
            (0, 82.0),
            (1, 3.0),
            (4, 6.0),
            (5, 4.0),
            (7, 0.5),
            (8, 2.0),
            (9, 1.5),
            (-1, 1.0),
        ],
    );
    let (rise, set) = DAYLIGHT[(m.month - 1) as usize];
    let t = f64::from(hour) + 0.5;
    let light = if t >= rise && t < set {
        1
    } else if urban == 1 {
        code(rng, &[(4, 88.0), (5, 2.0), (6, 5.0), (7, 5.0)])
    } else {
        code(rng, &[(4, 35.0), (5, 3.0), (6, 57.0), (7, 5.0)])
    };
    let winter = matches!(m.month, 11 | 12 | 1 | 2 | 3);
    let weather = code(
        rng,
        &[
            (1, 78.0),
            (2, if winter { 16.0 } else { 11.0 }),
            (3, if winter { 1.0 } else { 0.0 }),
            (4, 1.5),
            (5, 1.5),
            (7, 0.5),
            (8, 2.0),
            (9, 3.0),
        ],
    );
    let surface = match weather {
        2 | 5 => 2,
        3 => code(rng, &[(3, 70.0), (4, 30.0)]),
        9 => code(rng, &[(9, 60.0), (1, 20.0), (2, 20.0)]),
        _ => code(
            rng,
            &[
                (1, 85.0),
                (2, 12.0),
                (4, if winter { 3.0 } else { 0.0 }),
                (5, 0.2),
                (-1, 0.3),
            ],
        ),
    };
    let special = code(
        rng,
        &[
            (0, 96.0),
            (1, 0.3),
            (2, 0.2),
            (3, 0.3),
            (4, 1.5),
            (5, 0.8),
            (6, 0.4),
            (7, 0.3),
            (9, 0.2),
        ],
    );
    let hazards = code(
        rng,
        &[
            (0, 97.0),
            (1, 0.4),
            (2, 1.0),
            (3, 0.3),
            (6, 0.3),
            (7, 0.8),
            (9, 0.2),
        ],
    );
    let police_attended = code(rng, &[(1, 68.0), (2, 22.0), (3, 10.0)]);
    let trunk = if motorway || (first_road_class == 3 && rng.chance(0.1)) {
        1
    } else if rng.chance(0.003) {
        -1
    } else {
        2
    };
    CollisionFields {
        first_road_class,
        first_road_number,
        road_type,
        speed_limit,
        junction_detail,
        junction_control,
        second_road_class,
        second_road_number,
        ped_human,
        ped_physical,
        light,
        weather,
        surface,
        special,
        hazards,
        urban,
        police_attended,
        trunk,
    }
}

/// Approximate OS National Grid easting/northing around Lancashire: a local
/// linear fit (good to a few hundred metres), enough for synthetic points.
fn osgr(lon: f64, lat: f64) -> (i64, i64) {
    let e = 400_000.0 + (lon + 2.0) * 65_740.0;
    let n = -100_000.0 + (lat - 49.0) * 111_150.0;
    (e.round() as i64, n.round() as i64)
}

/// Severity order for the enhanced codes: fatal, very, moderately, less serious, slight.
fn enhanced_rank(code: i32) -> i32 {
    match code {
        1 => 0,
        5 => 1,
        6 => 2,
        7 => 3,
        _ => 4,
    }
}

fn collision_row(plan: &Plan, c: &Collision, key: &[String; 3], year: i32) -> Vec<String> {
    let d = &DISTRICTS[c.district];
    let sh = places::shape(d);
    let f = &c.fields;
    let date = Month {
        year,
        month: c.month,
    }
    .day(c.day);
    let dow = date.weekday().num_days_from_sunday() + 1;
    let severity = c.casualties.iter().map(|k| k.severity).min().unwrap_or(3);
    let enhanced = c
        .casualties
        .iter()
        .map(|k| k.enhanced)
        .min_by_key(|e| enhanced_rank(*e))
        .unwrap_or(3);
    let (adj_serious, adj_slight) = match severity {
        1 => (String::new(), String::new()),
        2 => (prob(1.0), prob(0.0)),
        _ => {
            let none: f64 = c.casualties.iter().map(|k| 1.0 - k.p_serious).product();
            let s = ((1.0 - none) * 1e6).round() / 1e6;
            (prob(s), prob(1.0 - s))
        }
    };
    let highway = if d.lancashire_12 {
        LANCASHIRE_12_CODE
    } else {
        d.code
    };
    let (e, n) = osgr(c.lon, c.lat);
    let ped_crossing = f.ped_physical;
    vec![
        key[0].clone(),
        key[1].clone(),
        key[2].clone(),
        e.to_string(),
        n.to_string(),
        format!("{:.6}", c.lon),
        format!("{:.6}", c.lat),
        "4".to_string(),
        severity.to_string(),
        c.vehicles.len().to_string(),
        c.casualties.len().to_string(),
        date.format("%d/%m/%Y").to_string(),
        dow.to_string(),
        format!("{:02}:{:02}", c.minute_of_day / 60, c.minute_of_day % 60),
        sh.la_number.to_string(),
        d.code.to_string(),
        highway.to_string(),
        highway.to_string(),
        f.first_road_class.to_string(),
        f.first_road_number.to_string(),
        f.road_type.to_string(),
        f.speed_limit.to_string(),
        (if f.junction_detail == 99 {
            9
        } else {
            f.junction_detail
        })
        .to_string(),
        f.junction_detail.to_string(),
        f.junction_control.to_string(),
        f.second_road_class.to_string(),
        f.second_road_number.to_string(),
        f.ped_human.to_string(),
        f.ped_physical.to_string(),
        ped_crossing.to_string(),
        f.light.to_string(),
        f.weather.to_string(),
        f.surface.to_string(),
        f.special.to_string(),
        f.hazards.to_string(),
        f.hazards.to_string(),
        f.urban.to_string(),
        f.police_attended.to_string(),
        f.trunk.to_string(),
        plan.catalogue.lsoas[c.lsoa].code.clone(),
        enhanced.to_string(),
        "1".to_string(),
        adj_serious,
        adj_slight,
    ]
}

/// Home LSOA of a road user: usually local, sometimes elsewhere in the county
/// or beyond; `(code, imd decile, distance band)` with `-1` for unknown.
fn home(plan: &Plan, rng: &mut Rng, c: &Collision) -> (String, i32, i32) {
    let cat = &plan.catalogue;
    let r = rng.f64();
    if r < 0.6 {
        let l = &cat.lsoas[cat.sample_lsoa(c.district, rng)];
        let band = code(rng, &[(1, 60.0), (2, 25.0), (3, 15.0)]);
        (l.code.clone(), i32::from(l.imd_decile), band)
    } else if r < 0.75 {
        let d = rng.below(DISTRICTS.len() as u64) as usize;
        let l = &cat.lsoas[cat.sample_lsoa(d, rng)];
        let band = code(rng, &[(2, 20.0), (3, 50.0), (4, 30.0)]);
        (l.code.clone(), i32::from(l.imd_decile), band)
    } else if r < 0.83 {
        let l = rng.pick(&cat.out_of_area);
        let band = code(rng, &[(4, 70.0), (5, 30.0)]);
        (l.code.clone(), rng.range(1, 10) as i32, band)
    } else {
        ("-1".to_string(), -1, -1)
    }
}

fn vehicle_row(
    plan: &Plan,
    rng: &mut Rng,
    c: &Collision,
    vi: usize,
    v: &Vehicle,
    key: &[String; 3],
) -> Vec<String> {
    let cycle = v.vtype == 1 || v.escooter;
    let moto = matches!(v.vtype, 2..=5 | 23 | 97);
    let min_age = if cycle { 8 } else { 17 };
    let age = match v.driver_age {
        Some(a) => a,
        None if v.vtype == 22 => age_from(rng, &AGE_PASSENGER, 60),
        None if moto => age_from(rng, &AGE_RIDER, 16),
        None => age_from(rng, &AGE_DRIVER, min_age),
    };
    let sex = v
        .driver_sex
        .unwrap_or_else(|| code(rng, &[(1, 70.0), (2, 27.0), (3, 3.0)]));
    let towing = if v.vtype == 21 && rng.chance(0.5) {
        1
    } else {
        code(
            rng,
            &[(0, 97.0), (3, 0.5), (4, 0.5), (9, 0.5), (-1, 0.3), (2, 0.1)],
        )
    };
    let manoeuvre = code(
        rng,
        &[
            (18, 45.0),
            (4, 5.0),
            (5, 4.0),
            (7, 4.0),
            (9, 10.0),
            (11, 2.0),
            (2, 3.0),
            (3, 6.0),
            (16, 3.0),
            (17, 3.0),
            (10, 2.0),
            (13, 1.0),
            (15, 1.0),
            (1, 2.0),
            (99, 9.0),
        ],
    );
    let direction = |rng: &mut Rng| {
        if manoeuvre == 2 {
            0
        } else {
            code(
                rng,
                &[
                    (1, 11.0),
                    (2, 11.0),
                    (3, 11.0),
                    (4, 11.0),
                    (5, 11.0),
                    (6, 11.0),
                    (7, 11.0),
                    (8, 11.0),
                    (9, 10.0),
                    (-1, 2.0),
                ],
            )
        }
    };
    let from = direction(rng);
    let to = direction(rng);
    let junction_location = if c.fields.junction_detail == 0 {
        0
    } else {
        code(
            rng,
            &[
                (1, 20.0),
                (2, 5.0),
                (3, 5.0),
                (4, 5.0),
                (5, 15.0),
                (6, 20.0),
                (8, 25.0),
                (9, 5.0),
            ],
        )
    };
    let skidding = code(
        rng,
        &[(0, 90.0), (1, 6.0), (2, 1.0), (3, 0.1), (5, 2.0), (9, 0.9)],
    );
    let hit_in = code(
        rng,
        &[
            (0, 96.5),
            (4, 1.5),
            (7, 0.5),
            (8, 0.3),
            (10, 0.5),
            (11, 0.5),
            (2, 0.2),
        ],
    );
    let leaving = code(
        rng,
        &[
            (0, 88.0),
            (1, 5.0),
            (2, 0.5),
            (3, 0.5),
            (4, 0.5),
            (7, 3.0),
            (8, 0.5),
            (9, 2.0),
        ],
    );
    let hit_off = if leaving == 0 || leaving == 9 {
        0
    } else {
        code(
            rng,
            &[
                (1, 10.0),
                (2, 12.0),
                (3, 5.0),
                (4, 20.0),
                (7, 25.0),
                (10, 20.0),
                (0, 8.0),
            ],
        )
    };
    let impact = code(
        rng,
        &[
            (0, 5.0),
            (1, 55.0),
            (2, 18.0),
            (3, 10.0),
            (4, 10.0),
            (9, 2.0),
        ],
    );
    let lhd = code(rng, &[(1, 97.0), (2, 1.0), (9, 2.0)]);
    let purpose = code(
        rng,
        &[
            (1, 8.0),
            (2, 10.0),
            (3, 1.0),
            (4, 1.0),
            (5, 25.0),
            (6, 55.0),
        ],
    );
    let year_frac = f64::from(key[1].parse::<i32>().unwrap_or(2020)) - 2015.0;
    let electric_share = (1.0 + 1.2 * year_frac).clamp(0.5, 20.0);
    let propulsion = if cycle && !v.escooter {
        -1
    } else if v.escooter || v.vtype == 23 || v.vtype == 22 {
        3
    } else {
        code(
            rng,
            &[
                (1, 52.0),
                (2, 38.0),
                (3, electric_share),
                (8, electric_share),
                (-1, 2.0),
            ],
        )
    };
    let engine = if cycle || propulsion == 3 || rng.chance(0.12) {
        -1
    } else {
        match v.vtype {
            2 => 49,
            3 => 125,
            4 => rng.range(250, 500) as i32,
            5 => rng.range(600, 1300) as i32,
            97 => -1,
            19 => *rng.pick(&[1560, 1995, 2198, 2402]),
            10 | 11 => *rng.pick(&[4500, 6700, 7200]),
            20 | 21 | 98 => *rng.pick(&[7200, 10_800, 12_800]),
            17 => *rng.pick(&[4400, 6700]),
            _ => *rng.pick(&[
                999, 1198, 1242, 1364, 1398, 1461, 1499, 1560, 1598, 1968, 1995, 2143, 2993,
            ]),
        }
    };
    let vehicle_age = if cycle || rng.chance(0.15) {
        -1
    } else {
        let u = rng.f64();
        (u * u * 22.0) as i32
    };
    let model = if cycle || rng.chance(0.2) {
        "-1".to_string()
    } else {
        match v.vtype {
            2..=5 | 23 | 97 => (*rng.pick(&BIKE_MODELS)).to_string(),
            19 | 20 | 21 | 98 => (*rng.pick(&VAN_MODELS)).to_string(),
            10 | 11 => "ALEXANDER DENNIS ENVIRO200".to_string(),
            17 => "JOHN DEERE 6R".to_string(),
            22 => "-1".to_string(),
            _ => (*rng.pick(&CAR_MODELS)).to_string(),
        }
    };
    let (lsoa, imd, band) = home(plan, rng, c);
    vec![
        key[0].clone(),
        key[1].clone(),
        key[2].clone(),
        (vi + 1).to_string(),
        v.vtype.to_string(),
        towing.to_string(),
        manoeuvre.to_string(),
        from.to_string(),
        to.to_string(),
        junction_location.to_string(),
        skidding.to_string(),
        hit_in.to_string(),
        leaving.to_string(),
        hit_off.to_string(),
        impact.to_string(),
        lhd.to_string(),
        purpose.to_string(),
        sex.to_string(),
        age.to_string(),
        age_band(age).to_string(),
        engine.to_string(),
        propulsion.to_string(),
        vehicle_age.to_string(),
        model,
        imd.to_string(),
        lsoa,
        i32::from(v.escooter).to_string(),
        band.to_string(),
    ]
}

fn casualty_row(
    plan: &Plan,
    rng: &mut Rng,
    c: &Collision,
    ki: usize,
    k: &Casualty,
    key: &[String; 3],
) -> Vec<String> {
    let ped = k.class == 3;
    let (ped_location, ped_movement) = if ped {
        (
            code(
                rng,
                &[
                    (1, 10.0),
                    (4, 7.0),
                    (5, 45.0),
                    (6, 10.0),
                    (8, 3.0),
                    (9, 15.0),
                    (10, 10.0),
                ],
            ),
            code(
                rng,
                &[
                    (1, 35.0),
                    (2, 5.0),
                    (3, 20.0),
                    (4, 5.0),
                    (5, 5.0),
                    (7, 4.0),
                    (8, 4.0),
                    (9, 22.0),
                ],
            ),
        )
    } else {
        (0, 0)
    };
    let car_passenger = if k.class == 2 && matches!(k.ctype, 8 | 9) {
        code(rng, &[(1, 55.0), (2, 43.0), (9, 2.0)])
    } else {
        0
    };
    let bus_passenger = if k.class == 2 && matches!(k.ctype, 10 | 11) {
        code(rng, &[(1, 5.0), (2, 5.0), (3, 40.0), (4, 50.0)])
    } else {
        0
    };
    let worker = if ped {
        code(rng, &[(0, 94.8), (2, 5.0), (-1, 0.2)])
    } else {
        0
    };
    let (lsoa, imd, band) = home(plan, rng, c);
    let (adj_serious, adj_slight) = match k.severity {
        1 => (String::new(), String::new()),
        _ => {
            let s = (k.p_serious * 1e6).round() / 1e6;
            (prob(s), prob(1.0 - s))
        }
    };
    vec![
        key[0].clone(),
        key[1].clone(),
        key[2].clone(),
        (k.vehicle_ref + 1).to_string(),
        (ki + 1).to_string(),
        k.class.to_string(),
        k.sex.to_string(),
        k.age.to_string(),
        age_band(k.age).to_string(),
        k.severity.to_string(),
        ped_location.to_string(),
        ped_movement.to_string(),
        car_passenger.to_string(),
        bus_passenger.to_string(),
        worker.to_string(),
        k.ctype.to_string(),
        imd.to_string(),
        lsoa,
        k.enhanced.to_string(),
        "1".to_string(),
        adj_serious,
        adj_slight,
        band.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::DemoOptions;
    use chrono::NaiveDate;

    fn read(path: &Path) -> (Vec<String>, Vec<csv::StringRecord>) {
        let mut r = csv::Reader::from_path(path).unwrap();
        let h = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r.records().map(|x| x.unwrap()).collect();
        (h, rows)
    }

    #[test]
    fn age_bands_follow_dft() {
        assert_eq!(age_band(0), 1);
        assert_eq!(age_band(15), 3);
        assert_eq!(age_band(16), 4);
        assert_eq!(age_band(75), 10);
        assert_eq!(age_band(76), 11);
        assert_eq!(age_band(-1), -1);
    }

    #[test]
    fn old_year_has_old_names_and_new_years_current_ones() {
        let t = tempfile::tempdir().unwrap();
        let plan = Plan::new(&DemoOptions {
            dir: t.path().to_path_buf(),
            seed: 5,
            years: 2,
            end_month: NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
            partner_db: false,
        });
        assert_eq!(plan.years(), vec![2022, 2023, 2024]);
        write(&plan, t.path()).unwrap();
        let f = |kind: &str, y: i32| {
            t.path()
                .join(format!("dft-road-casualty-statistics-{kind}-{y}.csv"))
        };
        let (h, rows) = read(&f("collision", 2022));
        assert_eq!(h[0], "accident_index");
        assert_eq!(h[1], "accident_year");
        assert_eq!(h[2], "accident_reference");
        assert!(h.contains(&"accident_severity".to_string()));
        assert!(!h.iter().any(|c| c.starts_with("collision_")));
        assert!(!h.contains(&"enhanced_severity_collision".to_string()));
        assert_eq!(h.len(), 40);
        assert!(rows.iter().all(|r| r.len() == 40));
        let (h, _) = read(&f("casualty", 2022));
        assert_eq!(h[0], "accident_index");
        assert_eq!(h.len(), 18);
        assert!(!h.iter().any(|c| c.contains("adjusted")));
        let (h, _) = read(&f("vehicle", 2022));
        assert_eq!(h[2], "accident_reference");

        let (h, rows) = read(&f("collision", 2023));
        assert_eq!(h, COLLISION_COLUMNS.to_vec());
        let n = rows.len() as f64;
        assert!((2_400.0..3_600.0).contains(&n), "{n} collisions");
        let (kh, cas) = read(&f("casualty", 2023));
        assert_eq!(kh, CASUALTY_COLUMNS.to_vec());
        let (vh, _) = read(&f("vehicle", 2023));
        assert_eq!(vh, VEHICLE_COLUMNS.to_vec());
        let c = cas.len() as f64;
        assert!(
            (1.2..1.5).contains(&(c / n)),
            "{c} casualties for {n} collisions"
        );
        let fatal = cas.iter().filter(|r| &r[9] == "1").count() as f64 / c;
        let serious = cas.iter().filter(|r| &r[9] == "2").count() as f64 / c;
        assert!((0.005..0.03).contains(&fatal), "fatal share {fatal}");
        assert!((0.14..0.26).contains(&serious), "serious share {serious}");
        for r in &cas {
            match &r[9] {
                "1" => assert_eq!((&r[20], &r[21]), ("", "")),
                "2" => assert_eq!(&r[20], "1.0"),
                _ => {
                    let s: f64 = r[20].parse().unwrap();
                    let l: f64 = r[21].parse().unwrap();
                    assert!((0.0..=0.3).contains(&s));
                    assert!((s + l - 1.0).abs() < 1e-6);
                }
            }
        }
        for r in &rows {
            assert_eq!(&r[7], "4");
            assert!(r[0].starts_with("202304") && r[0].len() == 13);
            assert_eq!(&r[0][4..], &r[2]);
            assert!(DISTRICTS.iter().any(|d| d.code == &r[15]));
            assert!(r[39].starts_with("E01"));
            assert_eq!(r[11].len(), 10);
            assert_eq!(&r[11][6..], "2023");
        }
    }
}
