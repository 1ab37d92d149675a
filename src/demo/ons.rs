//! ONS reference files: the LSOA (2021) -> local authority lookup and the
//! mid-year population estimates in the MYEB2 shape ("long by age, wide by
//! year": one row per district, sex and single year of age, one
//! `population_YYYY` column per estimate year).
//!
//! ONS publishes mid-year estimates with a lag, so the last column is the year
//! before `end_month`'s: rates for the latest months must reuse the latest
//! estimate, exactly the situation the real pipeline is in.

use super::rng::Rng;
use super::{CsvOut, Error, Plan};
use crate::geography::{DISTRICTS, District};
use std::path::Path;

/// Header of the LSOA lookup.
pub const LOOKUP_HEADER: [&str; 4] = ["LSOA21CD", "LSOA21NM", "LAD22CD", "LAD22NM"];

/// Oldest estimate year always included (the 2011 census base).
const FIRST_ESTIMATE_YEAR: i32 = 2011;

/// Estimate years written: from 2011 (or the first data year, if earlier) to
/// the year before `end_month`'s.
pub fn estimate_years(plan: &Plan) -> (i32, i32) {
    let first = FIRST_ESTIMATE_YEAR.min(plan.first().year);
    let last = (plan.end.year - 1).max(first);
    (first, last)
}

/// Write both ONS files.
pub fn write(plan: &Plan, ons_dir: &Path) -> Result<(), Error> {
    write_lookup(plan, &ons_dir.join("lsoa21_to_lad.csv"))?;
    write_population(plan, &ons_dir.join("mid_year_population_estimates.csv"))
}

fn write_lookup(plan: &Plan, path: &Path) -> Result<(), Error> {
    let mut out = CsvOut::create(path)?;
    out.row(LOOKUP_HEADER)?;
    for l in &plan.catalogue.lsoas {
        if let Some(d) = l.district {
            let d = &DISTRICTS[d];
            out.row([l.code.as_str(), l.name.as_str(), d.code, d.name])?;
        }
    }
    out.finish()
}

/// Relative size of each single year of age 0..=90 (90 = 90+) for a district:
/// a realistic English pyramid, adjusted for student towns, retirement coasts
/// and young east-Lancashire populations.
fn age_shape(d: &District) -> [f64; 91] {
    let student = matches!(d.name, "Lancaster" | "Preston");
    let older = matches!(d.name, "Fylde" | "Wyre" | "Ribble Valley");
    let younger = matches!(d.name, "Blackburn with Darwen" | "Pendle" | "Burnley");
    let mut w = [0.0; 91];
    for (a, v) in w.iter_mut().enumerate() {
        let a = a as f64;
        let base = if a < 18.0 {
            1.12
        } else if a < 25.0 {
            1.10
        } else if a < 45.0 {
            1.18 + 0.004 * (a - 25.0)
        } else if a < 62.0 {
            1.30
        } else if a < 75.0 {
            1.30 - 0.025 * (a - 62.0)
        } else if a < 90.0 {
            0.95 - 0.055 * (a - 75.0)
        } else {
            // 90+ is an open band: about a year and a half of 75-year-olds.
            1.25
        };
        let mut f = 1.0;
        if student && (18.0..23.0).contains(&a) {
            f *= 1.6;
        }
        if older && a >= 60.0 {
            f *= 1.25;
        }
        if older && a < 40.0 {
            f *= 0.9;
        }
        if younger && a < 20.0 {
            f *= 1.15;
        }
        *v = base * f;
    }
    w
}

/// Female share at a given age: boys slightly outnumber girls, women outlive men.
fn female_share(age: usize) -> f64 {
    match age {
        0..=19 => 0.488,
        20..=59 => 0.503,
        60..=74 => 0.515,
        75..=84 => 0.56,
        85..=89 => 0.62,
        _ => 0.70,
    }
}

fn write_population(plan: &Plan, path: &Path) -> Result<(), Error> {
    let (first, last) = estimate_years(plan);
    let years: Vec<i32> = (first..=last).collect();
    let mut header: Vec<String> = ["ladcode23", "laname23", "country", "sex", "age"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(years.iter().map(|y| format!("population_{y}")));
    let mut out = CsvOut::create(path)?;
    out.row(&header)?;
    let mut rng = Rng::stream(plan.seed, "ons-population", 0);
    for d in DISTRICTS.iter() {
        let shape = age_shape(d);
        let total_shape: f64 = shape.iter().sum();
        // Smooth, slightly noisy growth of about 0.4% a year around mid-2022.
        let growth: Vec<f64> = years
            .iter()
            .map(|y| 1.0 + 0.004 * f64::from(y - 2022))
            .collect();
        for sex in [1u8, 2] {
            for (age, w) in shape.iter().enumerate() {
                let fs = female_share(age);
                let share = if sex == 2 { fs } else { 1.0 - fs };
                let base = f64::from(d.population) * w / total_shape * share;
                let mut row = vec![
                    d.code.to_string(),
                    d.name.to_string(),
                    "E".to_string(),
                    sex.to_string(),
                    age.to_string(),
                ];
                // A per-cell wobble that persists from year to year (cohorts).
                let cell = 1.0 + 0.03 * rng.normal() / 3.0;
                for g in &growth {
                    let noise = 1.0 + 0.004 * rng.normal() / 3.0;
                    let v = (base * g * cell * noise).round().max(0.0);
                    row.push(format!("{}", v as u64));
                }
                out.row(&row)?;
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::DemoOptions;
    use chrono::NaiveDate;

    #[test]
    fn population_totals_and_female_share_are_plausible() {
        let t = tempfile::tempdir().unwrap();
        let plan = Plan::new(&DemoOptions {
            dir: t.path().to_path_buf(),
            seed: 3,
            years: 2,
            end_month: NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
            partner_db: false,
        });
        assert_eq!(estimate_years(&plan), (2011, 2023));
        write(&plan, t.path()).unwrap();
        let text =
            std::fs::read_to_string(t.path().join("mid_year_population_estimates.csv")).unwrap();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let h = rdr.headers().unwrap().clone();
        assert_eq!(&h[0], "ladcode23");
        assert_eq!(&h[5], "population_2011");
        assert_eq!(&h[h.len() - 1], "population_2023");
        let col22 = h.iter().position(|c| c == "population_2022").unwrap();
        let (mut total, mut female) = (0.0, 0.0);
        let mut rows = 0;
        for r in rdr.records() {
            let r = r.unwrap();
            rows += 1;
            let v: f64 = r[col22].parse().unwrap();
            total += v;
            if &r[3] == "2" {
                female += v;
            }
        }
        assert_eq!(rows, 14 * 2 * 91);
        let expected: f64 = DISTRICTS.iter().map(|d| f64::from(d.population)).sum();
        assert!(
            (total / expected - 1.0).abs() < 0.01,
            "{total} vs {expected}"
        );
        let fs = female / total;
        assert!((0.50..0.52).contains(&fs), "{fs}");
        let lookup = std::fs::read_to_string(t.path().join("lsoa21_to_lad.csv")).unwrap();
        assert!(lookup.starts_with("LSOA21CD,LSOA21NM,LAD22CD,LAD22NM\n"));
        let n: u32 = DISTRICTS.iter().map(|d| d.lsoas).sum();
        assert_eq!(lookup.lines().count() as u32, n + 1);
        assert!(!lookup.contains("Ashfield"));
    }
}
