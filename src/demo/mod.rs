//! Deterministic synthetic pan-Lancashire data in the REAL published formats.
//!
//! safer reads data.police.uk street files, DfT STATS19 CSVs, ONS lookups and
//! population estimates, and partner SQL databases. Real data cannot ship with
//! the project (and partner data is personal), so this module writes a
//! realistic stand-in for all of them, byte-for-byte in the published layouts
//! described in `shared/FORMATS.md`: whatever the pipeline does with the demo,
//! it does with the real files. The data set has the awkward features real
//! data has, because the readers must survive them: out-of-force LSOAs in the
//! police file, `No Location` rows at the end, quoted locations with commas,
//! identical ASB rows, a STATS19 year with the old `accident_*` column names,
//! DfT adjusted-severity probabilities, small counts that need suppression.
//!
//! Everything is a pure function of [`DemoOptions`]: the generator has its
//! own PRNG ([`rng`]) with no libm in the value path, no hash-map iteration
//! and no clock, so the same options give byte-identical files forever and a
//! different seed gives different data. The small-area geography
//! ([`places`]) is seed-independent, like real reference data.
//!
//! Layout under `dir/data/`:
//! - `police-uk/YYYY-MM/YYYY-MM-lancashire-street.csv` ([`police`])
//! - `stats19/dft-road-casualty-statistics-{collision,vehicle,casualty}-YYYY.csv` ([`stats19`])
//! - `ons/lsoa21_to_lad.csv`, `ons/mid_year_population_estimates.csv` ([`ons`])
//! - `partner.sqlite` ([`partner`], optional)

pub mod ons;
pub mod partner;
pub mod places;
pub mod police;
pub mod project;
pub mod rng;
pub mod stats19;

use chrono::{Datelike, NaiveDate};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Options for the synthetic data set.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Everything goes under `dir/data/`.
    pub dir: PathBuf,
    /// PRNG seed: same seed and options, same bytes.
    pub seed: u64,
    /// Number of whole years of monthly data ending at `end_month`.
    pub years: u32,
    /// First day of the last month to generate (inclusive); any day of the
    /// month is accepted and means that month.
    pub end_month: NaiveDate,
    /// Write the SQLite partner database (benchmarks skip it).
    pub partner_db: bool,
}

/// What was written, for the CLI to print.
#[derive(Debug, Clone)]
pub struct DemoData {
    /// `dir/data/police-uk`.
    pub police_dir: PathBuf,
    /// `dir/data/stats19`.
    pub stats19_dir: PathBuf,
    /// `dir/data/ons`.
    pub ons_dir: PathBuf,
    /// `dir/data/partner.sqlite` when requested.
    pub partner_db: Option<PathBuf>,
    /// Data rows written to police.uk files (crimes + ASB).
    pub police_rows: u64,
    /// Months of police and partner data.
    pub months: u32,
}

/// Why generation failed; every I/O error names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options cannot describe a data set (e.g. `years = 0`).
    #[error("demo data: invalid options: {0}")]
    Options(String),
    /// Creating a directory or writing/removing a file failed.
    #[error("demo data: {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV writer failed.
    #[error("demo data: writing CSV {}: {source}", path.display())]
    Csv {
        /// The CSV file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// Creating or filling the partner SQLite database failed.
    #[error("demo data: partner database {}: {message}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done and the driver's error.
        message: String,
    },
    /// A generator thread panicked or was cancelled.
    #[error("demo data: generator task failed: {0}")]
    Worker(String),
}

/// Generate the whole data set under `opts.dir/data/`.
///
/// The CSV files are written on blocking threads (police months in parallel;
/// each month has its own PRNG stream, so the thread count cannot change the
/// output); the partner database is then filled over sqlx.
pub async fn generate(opts: &DemoOptions) -> Result<DemoData, Error> {
    if opts.years == 0 {
        return Err(Error::Options("years must be at least 1".into()));
    }
    if opts.years > 100 {
        return Err(Error::Options(format!(
            "years = {} is not a plausible span",
            opts.years
        )));
    }
    let data_dir = opts.dir.join("data");
    let police_dir = data_dir.join("police-uk");
    let stats19_dir = data_dir.join("stats19");
    let ons_dir = data_dir.join("ons");
    for d in [&data_dir, &police_dir, &stats19_dir, &ons_dir] {
        create_dir(d)?;
    }

    let plan = Plan::new(opts);
    let collect = opts.partner_db;
    let dirs = (police_dir.clone(), stats19_dir.clone(), ons_dir.clone());
    let (plan, police_rows, crimes) = tokio::task::spawn_blocking(move || {
        write_files(&plan, &dirs.0, &dirs.1, &dirs.2, collect)
            .map(|(rows, crimes)| (plan, rows, crimes))
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))??;

    let partner_db = if opts.partner_db {
        let path = data_dir.join("partner.sqlite");
        partner::write(&plan, &crimes, &path).await?;
        Some(path)
    } else {
        None
    };

    Ok(DemoData {
        police_dir,
        stats19_dir,
        ons_dir,
        partner_db,
        police_rows,
        months: plan.months.len() as u32,
    })
}

/// All CSV outputs: police months on worker threads, STATS19 and ONS on one more.
fn write_files(
    plan: &Plan,
    police_dir: &Path,
    stats19_dir: &Path,
    ons_dir: &Path,
    collect: bool,
) -> Result<(u64, Vec<police::Crime>), Error> {
    std::thread::scope(|s| {
        let other = s.spawn(|| -> Result<(), Error> {
            stats19::write(plan, stats19_dir)?;
            ons::write(plan, ons_dir)
        });
        let police = police::write(plan, police_dir, collect);
        let other = other
            .join()
            .map_err(|_| Error::Worker("STATS19/ONS thread panicked".into()))?;
        other?;
        police
    })
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    /// Calendar year.
    pub year: i32,
    /// 1..=12.
    pub month: u32,
}

impl Month {
    /// The month containing `d`.
    pub fn of(d: NaiveDate) -> Self {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// Months since year 0: consecutive months have consecutive indices.
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    /// Inverse of [`Month::index`].
    pub fn from_index(i: i64) -> Self {
        Month {
            year: i.div_euclid(12) as i32,
            month: i.rem_euclid(12) as u32 + 1,
        }
    }

    /// `YYYY-MM`, as police.uk writes it.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// First day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// Number of days in the month.
    pub fn days(self) -> u32 {
        let next = Month::from_index(self.index() + 1).first_day();
        (next - self.first_day()).num_days() as u32
    }

    /// Decimal year at mid-month, for linear trends.
    pub fn decimal_year(self) -> f64 {
        f64::from(self.year) + (f64::from(self.month) - 0.5) / 12.0
    }

    /// A day of the month (1-based, clamped to the month's length).
    pub fn day(self, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, d.clamp(1, self.days()))
            .unwrap_or(NaiveDate::MIN)
    }
}

/// Everything the writers share: the options, the months and the geography.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The demo seed.
    pub seed: u64,
    /// Months to generate, oldest first.
    pub months: Vec<Month>,
    /// The last month (the "latest published" month).
    pub end: Month,
    /// The seed-independent small-area geography.
    pub catalogue: places::Catalogue,
}

impl Plan {
    /// Plan for `opts` (assumes `years >= 1`).
    pub fn new(opts: &DemoOptions) -> Self {
        let end = Month::of(opts.end_month);
        let n = i64::from(opts.years) * 12;
        let months = (0..n)
            .map(|k| Month::from_index(end.index() - (n - 1) + k))
            .collect();
        Plan {
            seed: opts.seed,
            months,
            end,
            catalogue: places::Catalogue::build(),
        }
    }

    /// The first month.
    pub fn first(&self) -> Month {
        self.months.first().copied().unwrap_or(self.end)
    }

    /// Calendar years touched by the months, oldest first.
    pub fn years(&self) -> Vec<i32> {
        (self.first().year..=self.end.year).collect()
    }

    /// STATS19 years "published" by `end`: DfT releases whole calendar
    /// years only, so the year `end` falls in is left out unless it is
    /// complete. At least the year before `end` is always there, so a
    /// one-year demo still has road casualties.
    pub fn stats19_years(&self) -> Vec<i32> {
        let last = if self.end.month == 12 {
            self.end.year
        } else {
            self.end.year - 1
        };
        let first = self.first().year.min(last);
        (first..=last).collect()
    }
}

/// COVID-19 lockdown multipliers `(crime, asb)`: recorded crime fell and
/// lockdown breaches were logged as ASB, a real special cause that SPC charts
/// should find in any series spanning 2020.
pub fn covid_factor(m: Month) -> (f64, f64) {
    match (m.year, m.month) {
        (2020, 3) => (0.93, 1.25),
        (2020, 4) => (0.76, 1.95),
        (2020, 5) => (0.86, 1.75),
        (2020, 6) => (0.95, 1.40),
        (2020, 7..=10) => (0.99, 1.12),
        (2020, 11) => (0.90, 1.40),
        (2020, 12) => (0.94, 1.20),
        (2021, 1) => (0.84, 1.50),
        (2021, 2) => (0.87, 1.35),
        (2021, 3) => (0.95, 1.15),
        _ => (1.0, 1.0),
    }
}

/// Create a directory (and parents), with the path in the error.
pub(crate) fn create_dir(p: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(p).map_err(|source| Error::Io {
        path: p.to_path_buf(),
        source,
    })
}

/// A CSV file being written: LF line ends, quoting only where needed, no BOM.
pub(crate) struct CsvOut {
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
}

impl CsvOut {
    /// Create (truncate) `path`.
    pub(crate) fn create(path: &Path) -> Result<Self, Error> {
        let f = File::create(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let w = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Necessary)
            .terminator(csv::Terminator::Any(b'\n'))
            .flexible(false)
            .from_writer(BufWriter::with_capacity(1 << 20, f));
        Ok(CsvOut {
            path: path.to_path_buf(),
            w,
        })
    }

    /// Write one record.
    pub(crate) fn row<I, T>(&mut self, record: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.w.write_record(record).map_err(|source| Error::Csv {
            path: self.path.clone(),
            source,
        })
    }

    /// Flush everything to disk; errors are reported, not swallowed by drop.
    pub(crate) fn finish(self) -> Result<(), Error> {
        let path = self.path;
        let inner = self.w.into_inner().map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e.error().to_string()),
        })?;
        let mut inner = inner;
        inner.flush().map_err(|source| Error::Io { path, source })
    }
}

/// Format a probability with up to 6 decimals, keeping one (`1.0`, `0.081234`)
/// so that a column is always read as floating point.
pub(crate) fn prob(p: f64) -> String {
    let s = format!("{:.6}", p.clamp(0.0, 1.0));
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn opts(dir: &Path, seed: u64, partner: bool) -> DemoOptions {
        DemoOptions {
            dir: dir.to_path_buf(),
            seed,
            years: 1,
            end_month: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            partner_db: partner,
        }
    }

    /// Every file under `root` (relative path -> bytes), in sorted order.
    fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(root, root, &mut out);
        out
    }

    fn police_file(d: &DemoData, label: &str) -> String {
        let p = d
            .police_dir
            .join(label)
            .join(format!("{label}-lancashire-street.csv"));
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn months_and_years() {
        let t = tempfile::tempdir().unwrap();
        let p = Plan::new(&opts(t.path(), 1, false));
        assert_eq!(p.months.len(), 12);
        assert_eq!(
            p.first(),
            Month {
                year: 2023,
                month: 4
            }
        );
        assert_eq!(p.years(), vec![2023, 2024]);
        assert_eq!(
            Month {
                year: 2024,
                month: 2
            }
            .days(),
            29
        );
        assert_eq!(
            Month::from_index(
                Month {
                    year: 2024,
                    month: 12
                }
                .index()
                    + 1
            )
            .label(),
            "2025-01"
        );
        assert_eq!(prob(1.0), "1.0");
        assert_eq!(prob(0.25), "0.25");
        assert_eq!(prob(0.1234567), "0.123457");
    }

    #[tokio::test]
    async fn deterministic_and_seed_sensitive() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let da = generate(&opts(a.path(), 42, false)).await.unwrap();
        let db = generate(&opts(b.path(), 42, false)).await.unwrap();
        generate(&opts(c.path(), 43, false)).await.unwrap();
        assert_eq!(da.police_rows, db.police_rows);
        assert_eq!(da.months, 12);
        let (ta, tb, tc) = (tree(a.path()), tree(b.path()), tree(c.path()));
        assert_eq!(
            ta.len(),
            12 + 3 + 2,
            "12 police months, 1 published STATS19 year, 2 ONS files"
        );
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (k, v) in &ta {
            assert!(tb[k] == *v, "{k} differs between identical runs");
        }
        let label = "data/police-uk/2024-03/2024-03-lancashire-street.csv";
        assert!(
            ta[label] != tc[label],
            "different seeds gave the same police file"
        );
        // The geography is reference data: the same for every seed.
        let lookup = "data/ons/lsoa21_to_lad.csv";
        assert!(ta[lookup] == tc[lookup]);
    }

    #[tokio::test]
    async fn police_files_have_the_published_shape() {
        let t = tempfile::tempdir().unwrap();
        let d = generate(&opts(t.path(), 7, false)).await.unwrap();
        let mut total = 0u64;
        let mut quoted = 0;
        for m in Plan::new(&opts(t.path(), 7, false)).months {
            let label = m.label();
            let text = police_file(&d, &label);
            assert!(!text.starts_with('\u{feff}'));
            assert!(!text.contains('\r'));
            let mut lines = text.lines();
            assert_eq!(lines.next().unwrap(), police::HEADER_LINE);
            let mut seen_no_location = false;
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(text.as_bytes());
            for line in text.lines().skip(1) {
                assert!(line.ends_with(','), "{line}");
                if line.contains('"') {
                    quoted += 1;
                }
            }
            for rec in rdr.records() {
                let r = rec.unwrap();
                total += 1;
                assert_eq!(r.len(), 12);
                assert_eq!(&r[1], label.as_str());
                assert_eq!(&r[2], "Lancashire Constabulary");
                assert_eq!(&r[11], "");
                if &r[9] == "Anti-social behaviour" {
                    assert_eq!(&r[0], "", "ASB rows have no crime id");
                    assert_eq!(&r[10], "", "ASB rows have no outcome");
                } else {
                    assert_eq!(r[0].len(), 64);
                    assert!(
                        r[0].bytes()
                            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                    );
                    assert!(!r[10].is_empty());
                }
                let no_loc = &r[6] == "No Location";
                if no_loc {
                    seen_no_location = true;
                    assert_eq!(&r[4], "");
                    assert_eq!(&r[5], "");
                    assert_eq!(&r[7], "");
                    assert_eq!(&r[8], "");
                } else {
                    assert!(!seen_no_location, "located row after a No Location row");
                    assert_eq!(r[4].split('.').nth(1).unwrap().len(), 6);
                    assert!(r[6].starts_with("On or near "));
                    assert!(r[7].starts_with("E01"));
                }
            }
        }
        assert_eq!(total, d.police_rows);
        // About 11,700 rows a month.
        assert!((120_000..160_000).contains(&total), "{total}");
        assert!(quoted > 0, "no location needed quoting");
    }

    #[tokio::test]
    async fn partner_crime_ids_match_police_crime_rows() {
        let t = tempfile::tempdir().unwrap();
        let mut o = opts(t.path(), 11, true);
        o.years = 1;
        let d = generate(&o).await.unwrap();
        let mut police_ids = Vec::new();
        for m in Plan::new(&o).months {
            let text = police_file(&d, &m.label());
            let mut rdr = csv::Reader::from_reader(text.as_bytes());
            for rec in rdr.records() {
                let r = rec.unwrap();
                if !r[0].is_empty() {
                    police_ids.push(r[0].to_string());
                }
            }
        }
        let db = d.partner_db.clone().unwrap();
        let mut ids = partner::tests_support::crime_ids(&db).await;
        police_ids.sort();
        ids.sort();
        assert_eq!(police_ids.len(), ids.len());
        assert!(police_ids == ids, "partner crime ids differ from police.uk");
        let counts = partner::tests_support::table_counts(&db).await;
        for (table, n) in &counts {
            assert!(*n > 0, "{table} is empty");
        }
    }
}
