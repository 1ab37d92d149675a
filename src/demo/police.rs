//! data.police.uk street-level crime files, one per month.
//!
//! Volumes: about 11,700 rows a month (about 116k crimes and 25k ASB
//! incidents a year), split between districts by population times a per-head
//! rate (Blackpool, Preston, Burnley and Blackburn with Darwen run high),
//! seasonal (July about +12%, February the low), with a slight upward crime
//! trend, a downward ASB trend and the 2020-21 lockdown dip/spike.
//!
//! The awkward features real files have are reproduced on purpose: blank
//! crime ids and outcomes on ASB rows, `No Location` rows at the END of the
//! file (`No location` before 2015), a few crimes in LSOAs of other forces,
//! identical ASB rows (same snapped point and month), quoted locations with
//! commas, and outcomes that mature: recent months are mostly
//! `Under investigation`, older ones mostly closed.

use super::places::Catalogue;
use super::rng::{Rng, Weighted};
use super::{CsvOut, Error, Month, Plan, covid_factor, create_dir};
use crate::geography::DISTRICTS;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The street-file header, exactly as published.
pub const HEADER: [&str; 12] = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
];

/// The header as one line (for tests and documentation).
pub const HEADER_LINE: &str = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context";

/// The force as it appears in `Reported by` and `Falls within`.
pub const FORCE: &str = "Lancashire Constabulary";

/// Crime categories with their share of recorded crime (percent).
pub const CRIME_TYPES: [(&str, f64); 13] = [
    ("Violence and sexual offences", 40.0),
    ("Public order", 11.0),
    ("Criminal damage and arson", 10.0),
    ("Shoplifting", 8.0),
    ("Other theft", 8.0),
    ("Vehicle crime", 6.0),
    ("Burglary", 5.0),
    ("Drugs", 3.0),
    ("Other crime", 3.0),
    ("Possession of weapons", 1.5),
    ("Robbery", 1.0),
    ("Theft from the person", 1.0),
    ("Bicycle theft", 1.5),
];

/// Index of `Violence and sexual offences` in [`CRIME_TYPES`].
pub const VIOLENCE: u8 = 0;

/// The ASB category.
pub const ASB: &str = "Anti-social behaviour";

/// Recorded crimes a year, force-wide, at the 2019/20 level.
const CRIMES_PER_YEAR: f64 = 115_600.0;
/// ASB incidents a year (before identical-row repeats), force-wide, 2019/20.
const ASB_PER_YEAR: f64 = 24_100.0;
/// Share of crimes with no location (written last, blank coordinates).
const NO_LOCATION: f64 = 0.005;
/// Share of crimes placed in another force's LSOA.
const OUT_OF_AREA: f64 = 0.001;
/// Chance an ASB incident has an identical twin in the same month.
const ASB_TWIN: f64 = 0.03;

/// Seasonal multipliers Jan..Dec for crime (mean 1).
pub const CRIME_SEASON: [f64; 12] = [
    0.95, 0.88, 0.98, 0.98, 1.04, 1.06, 1.12, 1.08, 1.01, 1.02, 0.96, 0.92,
];
/// Seasonal multipliers Jan..Dec for ASB (mean 1): stronger summer and
/// Halloween/bonfire peaks.
pub const ASB_SEASON: [f64; 12] = [
    0.85, 0.82, 0.95, 1.02, 1.10, 1.12, 1.18, 1.15, 1.00, 1.05, 0.95, 0.81,
];

/// Outcome categories. Indices 13.. are court outcomes (the suspect was
/// charged), which read `Awaiting court outcome` while the case is recent.
pub const OUTCOMES: [&str; 25] = [
    "Under investigation",
    "Awaiting court outcome",
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Further investigation is not in the public interest",
    "Formal action is not in the public interest",
    "Local resolution",
    "Offender given a caution",
    "Offender given a drugs possession warning",
    "Action to be taken by another organisation",
    "Offender given penalty notice",
    "Suspect charged as part of another case",
    "Status update unavailable",
    "Court result unavailable",
    "Offender sent to prison",
    "Offender given suspended prison sentence",
    "Offender given community sentence",
    "Offender fined",
    "Offender given conditional discharge",
    "Offender otherwise dealt with",
    "Defendant found not guilty",
    "Court case unable to proceed",
    "Offender ordered to pay compensation",
    "Offender given absolute discharge",
    "Offender deprived of property",
];

/// First court-outcome index in [`OUTCOMES`].
pub const FIRST_COURT: u8 = 13;

/// Final-outcome weights (index = [`OUTCOMES`] index) by outcome group.
const OUTCOME_WEIGHTS: [[f64; 25]; 6] = [
    // 0: offences against the person, public order, other crime
    [
        0.0, 0.0, 20.0, 42.0, 3.0, 2.5, 5.0, 3.0, 0.0, 2.0, 0.3, 1.5, 2.0, 4.0, 2.2, 1.6, 1.8, 1.2,
        0.8, 0.4, 0.8, 0.6, 0.3, 0.05, 0.05,
    ],
    // 1: criminal damage
    [
        0.0, 0.0, 55.0, 20.0, 3.0, 2.0, 6.0, 2.0, 0.0, 1.0, 0.2, 1.0, 2.0, 2.0, 0.5, 0.4, 0.8, 1.0,
        0.8, 0.3, 0.2, 0.3, 1.0, 0.05, 0.0,
    ],
    // 2: shoplifting
    [
        0.0, 0.0, 38.0, 12.0, 4.0, 2.0, 5.0, 3.0, 0.0, 0.5, 1.5, 3.0, 2.0, 5.0, 3.0, 1.5, 3.0, 5.0,
        4.0, 0.8, 0.3, 0.5, 1.5, 0.2, 0.2,
    ],
    // 3: acquisitive (theft, vehicle, burglary, robbery, bicycle)
    [
        0.0, 0.0, 72.0, 8.0, 3.0, 0.5, 1.5, 0.8, 0.0, 0.5, 0.1, 1.5, 2.0, 2.0, 1.5, 0.7, 0.8, 0.5,
        0.3, 0.2, 0.3, 0.3, 0.3, 0.0, 0.0,
    ],
    // 4: drugs (police-generated: high detection)
    [
        0.0, 0.0, 2.0, 10.0, 4.0, 6.0, 16.0, 10.0, 12.0, 1.0, 1.0, 2.0, 1.5, 6.0, 6.0, 4.0, 5.0,
        8.0, 3.0, 1.0, 1.0, 1.0, 0.2, 0.3, 2.0,
    ],
    // 5: possession of weapons
    [
        0.0, 0.0, 3.0, 12.0, 4.0, 5.0, 8.0, 12.0, 0.0, 1.0, 0.5, 2.0, 1.5, 8.0, 10.0, 7.0, 7.0,
        4.0, 3.0, 1.0, 2.0, 1.5, 0.2, 0.3, 3.0,
    ],
];

/// Outcome group of each crime type (index into [`OUTCOME_WEIGHTS`]).
const OUTCOME_GROUP: [usize; 13] = [0, 0, 1, 2, 3, 3, 3, 4, 0, 5, 3, 3, 3];

/// Where a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// An in-area LSOA (index into `Catalogue::lsoas`) and snap point.
    Lsoa(u32, u16),
    /// Another force's LSOA (index into `Catalogue::out_of_area`) and point.
    Away(u16, u16),
    /// No location: blank coordinates and LSOA.
    Nowhere,
}

/// One crime row as the partner extract needs it.
#[derive(Debug, Clone)]
pub struct Crime {
    /// SHA-256 bytes; the police.uk id is their lowercase hex.
    pub id: [u8; 32],
    /// Month of the file the row is in.
    pub month: Month,
    /// Location.
    pub place: Place,
    /// District the incident was generated for (`None` for out-of-area).
    pub district: Option<u8>,
    /// Index into [`CRIME_TYPES`].
    pub crime_type: u8,
    /// Index into [`OUTCOMES`].
    pub outcome: u8,
}

/// A row before ids are assigned.
#[derive(Clone, Copy)]
struct Row {
    /// `None` for ASB.
    crime: Option<(u8, u8)>,
    place: Place,
    district: Option<u8>,
}

/// Precomputed per-run tables.
struct Tables {
    types: Weighted,
    outcomes: Vec<Weighted>,
    crime_share: Vec<f64>,
    asb_share: Vec<f64>,
}

impl Tables {
    fn new() -> Self {
        let types = Weighted::new(&CRIME_TYPES.map(|t| t.1));
        let outcomes = OUTCOME_WEIGHTS.iter().map(|w| Weighted::new(w)).collect();
        let share = |f: fn(&super::places::Shape) -> f64| -> Vec<f64> {
            let raw: Vec<f64> = DISTRICTS
                .iter()
                .map(|d| f64::from(d.population) * f(super::places::shape(d)))
                .collect();
            let total: f64 = raw.iter().sum();
            raw.iter().map(|r| r / total).collect()
        };
        Tables {
            types,
            outcomes,
            crime_share: share(|s| s.crime_rate),
            asb_share: share(|s| s.asb_rate),
        }
    }
}

/// Chance a crime `age` months before the latest month is still open.
fn p_open(age: f64) -> f64 {
    0.02 + 0.6 / (1.0 + 0.45 * age + 0.05 * age * age)
}

/// Chance a charged crime `age` months old has no court result yet.
fn p_awaiting(age: f64) -> f64 {
    0.9 / (1.0 + 0.35 * age + 0.03 * age * age)
}

/// Expected crimes and ASB incidents of district `d` in month `m`.
fn expected(t: &Tables, d: usize, m: Month) -> (f64, f64) {
    let mi = (m.month - 1) as usize;
    let years = m.decimal_year() - 2019.5;
    let crime_trend = (1.0 + 0.015 * years).clamp(0.6, 1.6);
    let asb_trend = (1.0 - 0.03 * years).clamp(0.5, 1.6);
    let (cc, ca) = covid_factor(m);
    (
        CRIMES_PER_YEAR / 12.0 * t.crime_share[d] * CRIME_SEASON[mi] * crime_trend * cc,
        ASB_PER_YEAR / 12.0 * t.asb_share[d] * ASB_SEASON[mi] * asb_trend * ca,
    )
}

/// One month's result: its index, row count and collected crimes.
type MonthOut = (usize, u64, Vec<Crime>);

/// Write every month's file; returns the row count and (if `collect`) the crimes.
pub fn write(plan: &Plan, police_dir: &Path, collect: bool) -> Result<(u64, Vec<Crime>), Error> {
    remove_stale(plan, police_dir)?;
    let tables = Tables::new();
    let n = plan.months.len();
    let workers = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(n.max(1));
    let results: Vec<Result<Vec<MonthOut>, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let tables = &tables;
                s.spawn(move || {
                    let mut out = Vec::new();
                    for mi in (w..n).step_by(workers) {
                        let (rows, crimes) = write_month(plan, tables, mi, police_dir, collect)?;
                        out.push((mi, rows, crimes));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Worker("police.uk thread panicked".into())))
            })
            .collect()
    });
    let mut per_month = Vec::with_capacity(n);
    for r in results {
        per_month.extend(r?);
    }
    per_month.sort_by_key(|(mi, _, _)| *mi);
    let mut total = 0;
    let mut crimes = Vec::new();
    for (_, rows, c) in per_month {
        total += rows;
        crimes.extend(c);
    }
    Ok((total, crimes))
}

/// Remove our own files for months outside the plan (from an earlier run with
/// other options), so the directory holds exactly this data set. Only files
/// named like ours are touched.
fn remove_stale(plan: &Plan, police_dir: &Path) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: police_dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(police_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let wanted: Vec<String> = plan.months.iter().map(|m| m.label()).collect();
    let mut stale = Vec::new();
    for e in entries {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let looks_like_month = name.len() == 7
            && name.as_bytes()[4] == b'-'
            && name
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 4 || b.is_ascii_digit());
        if looks_like_month && !wanted.contains(&name) {
            stale.push(name);
        }
    }
    stale.sort();
    for name in stale {
        let dir = police_dir.join(&name);
        let file = dir.join(format!("{name}-lancashire-street.csv"));
        if file.exists() {
            std::fs::remove_file(&file).map_err(|source| Error::Io { path: file, source })?;
        }
        // Leaves the directory if it holds anything else (outcomes files...).
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(())
}

/// Generate and write one month; the month's PRNG stream depends only on the
/// seed and the month, not on other months or threads.
fn write_month(
    plan: &Plan,
    t: &Tables,
    mi: usize,
    police_dir: &Path,
    collect: bool,
) -> Result<(u64, Vec<Crime>), Error> {
    let m = plan.months[mi];
    let cat = &plan.catalogue;
    let mut rng = Rng::stream(plan.seed, "police-uk", m.index() as u64);
    let age = (plan.end.index() - m.index()).max(0) as f64;
    let (open, awaiting) = (p_open(age), p_awaiting(age));

    let mut rows: Vec<Row> = Vec::with_capacity(12_500);
    let mut tail: Vec<Row> = Vec::new();
    for d in 0..DISTRICTS.len() {
        let (lc, la) = expected(t, d, m);
        let n_crime = rng.poisson(lc);
        let n_asb = rng.poisson(la);
        for _ in 0..n_crime {
            let ty = t.types.sample(&mut rng) as u8;
            let outcome = if rng.chance(open) {
                0
            } else {
                let o = t.outcomes[OUTCOME_GROUP[ty as usize]].sample(&mut rng) as u8;
                if o >= FIRST_COURT && rng.chance(awaiting) {
                    1
                } else {
                    o
                }
            };
            let r = rng.f64();
            if r < NO_LOCATION {
                tail.push(Row {
                    crime: Some((ty, outcome)),
                    place: Place::Nowhere,
                    district: Some(d as u8),
                });
            } else if r < NO_LOCATION + OUT_OF_AREA {
                let a = rng.below(cat.out_of_area.len() as u64) as usize;
                let p = cat.out_of_area[a].point_table.sample(&mut rng);
                rows.push(Row {
                    crime: Some((ty, outcome)),
                    place: Place::Away(a as u16, p as u16),
                    district: None,
                });
            } else {
                rows.push(Row {
                    crime: Some((ty, outcome)),
                    place: located(cat, d, &mut rng),
                    district: Some(d as u8),
                });
            }
        }
        for _ in 0..n_asb {
            let row = Row {
                crime: None,
                place: located(cat, d, &mut rng),
                district: Some(d as u8),
            };
            rows.push(row);
            if rng.chance(ASB_TWIN) {
                rows.push(row);
            }
        }
    }
    // Real files interleave districts and categories; identical ASB twins
    // may land anywhere in the month, as they do in published files.
    for i in (1..rows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        rows.swap(i, j);
    }
    rows.extend(tail);

    let label = m.label();
    let dir = police_dir.join(&label);
    create_dir(&dir)?;
    let path = dir.join(format!("{label}-lancashire-street.csv"));
    let mut out = CsvOut::create(&path)?;
    out.row(HEADER)?;
    let no_location = if m.year < 2015 {
        "No location"
    } else {
        "No Location"
    };
    let mut crimes = Vec::new();
    let mut seq = 0u64;
    let mut hexbuf = [0u8; 64];
    for row in &rows {
        let (lon, lat, loc, code, name) = match row.place {
            Place::Lsoa(l, p) => {
                let l = &cat.lsoas[l as usize];
                let p = &l.points[p as usize];
                (&*p.lon, &*p.lat, &*p.location, &*l.code, &*l.name)
            }
            Place::Away(a, p) => {
                let l = &cat.out_of_area[a as usize];
                let p = &l.points[p as usize];
                (&*p.lon, &*p.lat, &*p.location, &*l.code, &*l.name)
            }
            Place::Nowhere => ("", "", no_location, "", ""),
        };
        match row.crime {
            None => out.row([
                "", &label, FORCE, FORCE, lon, lat, loc, code, name, ASB, "", "",
            ])?,
            Some((ty, outcome)) => {
                let id = crime_id(plan.seed, &label, seq);
                seq += 1;
                // Two hex digits per byte into a fixed buffer: cannot fail.
                let _ = hex::encode_to_slice(id, &mut hexbuf);
                let id_hex = std::str::from_utf8(&hexbuf).unwrap_or("");
                out.row([
                    id_hex,
                    &label,
                    FORCE,
                    FORCE,
                    lon,
                    lat,
                    loc,
                    code,
                    name,
                    CRIME_TYPES[ty as usize].0,
                    OUTCOMES[outcome as usize],
                    "",
                ])?;
                if collect {
                    crimes.push(Crime {
                        id,
                        month: m,
                        place: row.place,
                        district: row.district,
                        crime_type: ty,
                        outcome,
                    });
                }
            }
        }
    }
    out.finish()?;
    Ok((rows.len() as u64, crimes))
}

/// A weighted LSOA of district `d` and a weighted snap point in it.
fn located(cat: &Catalogue, d: usize, rng: &mut Rng) -> Place {
    let l = cat.sample_lsoa(d, rng);
    let p = cat.lsoas[l].point_table.sample(rng);
    Place::Lsoa(l as u32, p as u16)
}

/// The crime id: SHA-256 of `seed:month:sequence`, unique and stable.
pub fn crime_id(seed: u64, label: &str, seq: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(format!("{seed}:{label}:{seq}").as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_line_matches_fields() {
        assert_eq!(HEADER.join(","), HEADER_LINE);
    }

    #[test]
    fn outcomes_mature_with_age() {
        assert!(p_open(0.0) > 0.5);
        assert!(p_open(24.0) < 0.05);
        assert!(p_awaiting(0.0) > p_awaiting(12.0));
    }

    #[test]
    fn volumes_and_mix_are_realistic() {
        let t = Tables::new();
        let m = Month {
            year: 2023,
            month: 7,
        };
        let feb = Month {
            year: 2023,
            month: 2,
        };
        let (mut c, mut a, mut cf) = (0.0, 0.0, 0.0);
        for d in 0..DISTRICTS.len() {
            let (x, y) = expected(&t, d, m);
            c += x;
            a += y;
            cf += expected(&t, d, feb).0;
        }
        assert!(c > cf * 1.2, "July should be well above February");
        let year_total = (c + a) * 12.0 / 1.1;
        assert!((120_000.0..170_000.0).contains(&year_total), "{year_total}");
        // Blackpool's per-head rate is well above Ribble Valley's.
        let bp = DISTRICTS
            .iter()
            .position(|d| d.name == "Blackpool")
            .unwrap();
        let rv = DISTRICTS
            .iter()
            .position(|d| d.name == "Ribble Valley")
            .unwrap();
        let per_head = |d: usize| t.crime_share[d] / f64::from(DISTRICTS[d].population);
        assert!(per_head(bp) > 3.0 * per_head(rv));
    }
}
