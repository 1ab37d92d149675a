//! The partner SQLite database: the force's recorded-crime extract and the
//! council's and partners' service systems (MARAC, exploitation, missing
//! children, Prevent, community tension, youth justice, trading standards,
//! ASB case management, hospital assault admissions, OCG disruptions, safe
//! accommodation).
//!
//! `crime_extract` has exactly one row per police.uk CRIME row (never ASB),
//! keyed by the same crime id, so the pipeline can join the public file to the
//! flags police.uk lacks (domestic abuse, hate strands, knife, victim age and
//! sex, Home Office offence code and outcome type). The flag rates follow
//! published national patterns: DA on about 16% of crime, hate crime about
//! 2.5% (mostly race, a tenth with two strands, so strand counts add to more
//! than the total), knife-enabled about 1.2% of violence and robbery, 10-15
//! homicides a year.
//!
//! Rows carry an `updated_at` timestamp (the incremental watermark the
//! pipeline's SQL sources declare). All tables are inserted inside one
//! transaction with multi-row prepared INSERTs, which keeps even a debug build
//! to seconds for a few hundred thousand rows.

use super::police::{self, Crime, Place};
use super::rng::Rng;
use super::{Error, Month, Plan, places};
use crate::geography::DISTRICTS;
use chrono::{Datelike, Duration, NaiveDate};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};
use std::path::Path;

/// One SQL value to bind.
#[derive(Debug, Clone)]
enum Val {
    Text(String),
    Str(&'static str),
    Int(i64),
    Real(f64),
    Null,
}

impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(s)
    }
}
impl From<&'static str> for Val {
    fn from(s: &'static str) -> Self {
        Val::Str(s)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(i64::from(v))
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::Real(v)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// Rows of one table, each a vector of values in column order.
type Rows = Vec<Vec<Val>>;

/// Table definitions: name and `(column, type)` pairs; the first is the key.
const TABLES: [(&str, &[(&str, &str)]); 12] = [
    (
        "crime_extract",
        &[
            ("crime_id", "TEXT PRIMARY KEY"),
            ("recorded_date", "TEXT"),
            ("month", "TEXT"),
            ("lsoa_code", "TEXT"),
            ("district_code", "TEXT"),
            ("crime_type", "TEXT"),
            ("ho_offence_code", "TEXT"),
            ("ho_offence_description", "TEXT"),
            ("domestic_abuse", "INTEGER"),
            ("hate_race", "INTEGER"),
            ("hate_religion", "INTEGER"),
            ("hate_sexual_orientation", "INTEGER"),
            ("hate_disability", "INTEGER"),
            ("hate_transgender", "INTEGER"),
            ("knife_sharp_object", "INTEGER"),
            ("victim_age_band", "TEXT"),
            ("victim_sex", "TEXT"),
            ("repeat_victim", "INTEGER"),
            ("outcome_code", "INTEGER"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "marac_cases",
        &[
            ("case_id", "TEXT PRIMARY KEY"),
            ("referral_date", "TEXT"),
            ("district_code", "TEXT"),
            ("repeat_case", "INTEGER"),
            ("victim_sex", "TEXT"),
            ("victim_age_band", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "exploitation_referrals",
        &[
            ("referral_id", "TEXT PRIMARY KEY"),
            ("referral_date", "TEXT"),
            ("district_code", "TEXT"),
            ("exploitation_type", "TEXT"),
            ("age", "INTEGER"),
            ("sex", "TEXT"),
            ("nrm_referral", "INTEGER"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "missing_episodes",
        &[
            ("episode_id", "TEXT PRIMARY KEY"),
            ("start_date", "TEXT"),
            ("district_code", "TEXT"),
            ("age", "INTEGER"),
            ("sex", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "prevent_referrals",
        &[
            ("referral_id", "TEXT PRIMARY KEY"),
            ("referral_date", "TEXT"),
            ("district_code", "TEXT"),
            ("concern_type", "TEXT"),
            ("age_band", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "community_tension_reports",
        &[
            ("report_id", "TEXT PRIMARY KEY"),
            ("report_date", "TEXT"),
            ("district_code", "TEXT"),
            ("tension_level", "TEXT"),
            ("theme", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "yj_first_time_entrants",
        &[
            ("fte_id", "TEXT PRIMARY KEY"),
            ("entry_date", "TEXT"),
            ("district_code", "TEXT"),
            ("age", "INTEGER"),
            ("sex", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "ts_seizures",
        &[
            ("seizure_id", "TEXT PRIMARY KEY"),
            ("seizure_date", "TEXT"),
            ("district_code", "TEXT"),
            ("product", "TEXT"),
            ("quantity", "INTEGER"),
            ("value_gbp", "REAL"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "asb_cases",
        &[
            ("case_id", "TEXT PRIMARY KEY"),
            ("opened_date", "TEXT"),
            ("district_code", "TEXT"),
            ("risk_level", "TEXT"),
            ("repeat_case", "INTEGER"),
            ("community_trigger", "INTEGER"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "hospital_assault_admissions",
        &[
            ("admission_id", "TEXT PRIMARY KEY"),
            ("admission_date", "TEXT"),
            ("district_code", "TEXT"),
            ("age", "INTEGER"),
            ("sex", "TEXT"),
            ("sharp_object", "INTEGER"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "ocg_disruptions",
        &[
            ("disruption_id", "TEXT PRIMARY KEY"),
            ("disruption_date", "TEXT"),
            ("district_code", "TEXT"),
            ("impact", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
    (
        "safe_accommodation_referrals",
        &[
            ("referral_id", "TEXT PRIMARY KEY"),
            ("referral_date", "TEXT"),
            ("district_code", "TEXT"),
            ("outcome", "TEXT"),
            ("updated_at", "TEXT"),
        ],
    ),
];

/// Names of the partner tables, in creation order.
pub fn table_names() -> Vec<&'static str> {
    TABLES.iter().map(|t| t.0).collect()
}

/// Create `path` afresh and fill every table.
pub async fn write(plan: &Plan, crimes: &[Crime], path: &Path) -> Result<(), Error> {
    let sql_err = |what: &str, e: sqlx::Error| Error::Sqlite {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    };
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path: p, source }),
        }
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        .synchronous(SqliteSynchronous::Off);
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(|e| sql_err("opening", e))?;
    let mut tx = conn.begin().await.map_err(|e| sql_err("begin", e))?;
    for (name, cols) in TABLES {
        let body: Vec<String> = cols.iter().map(|(c, t)| format!("{c} {t}")).collect();
        let ddl = format!("CREATE TABLE {name} ({})", body.join(", "));
        sqlx::query(&ddl)
            .execute(&mut *tx)
            .await
            .map_err(|e| sql_err(&format!("creating {name}"), e))?;
    }

    insert(&mut tx, 0, crime_rows(plan, crimes), path).await?;
    let generators: [fn(&Plan) -> Rows; 11] = [
        marac,
        exploitation,
        missing,
        prevent,
        tension,
        first_time_entrants,
        seizures,
        asb_cases,
        hospital,
        ocg,
        safe_accommodation,
    ];
    for (i, g) in generators.iter().enumerate() {
        insert(&mut tx, i + 1, g(plan), path).await?;
    }
    for (name, cols) in TABLES {
        if cols.iter().any(|c| c.0 == "updated_at") {
            let ddl = format!("CREATE INDEX {name}_updated_at ON {name} (updated_at)");
            sqlx::query(&ddl)
                .execute(&mut *tx)
                .await
                .map_err(|e| sql_err(&format!("indexing {name}"), e))?;
        }
    }
    tx.commit().await.map_err(|e| sql_err("commit", e))?;
    conn.close().await.map_err(|e| sql_err("closing", e))?;
    Ok(())
}

/// Insert rows into table `t` with multi-row prepared statements (at most
/// 999 bound values each, the lowest SQLite limit, so any build works).
async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    t: usize,
    rows: Rows,
    path: &Path,
) -> Result<(), Error> {
    let (name, cols) = TABLES[t];
    let ncols = cols.len();
    let per = (999 / ncols).max(1);
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let one = format!("({})", vec!["?"; ncols].join(","));
    let sql_for = |n: usize| {
        format!(
            "INSERT INTO {name} ({}) VALUES {}",
            names.join(","),
            vec![one.as_str(); n].join(",")
        )
    };
    let full = sql_for(per);
    for chunk in rows.chunks(per) {
        let partial;
        let sql = if chunk.len() == per {
            &full
        } else {
            partial = sql_for(chunk.len());
            &partial
        };
        let mut q = sqlx::query(sql);
        for row in chunk {
            debug_assert_eq!(row.len(), ncols);
            for v in row {
                q = match v {
                    Val::Text(s) => q.bind(s.as_str()),
                    Val::Str(s) => q.bind(*s),
                    Val::Int(i) => q.bind(*i),
                    Val::Real(f) => q.bind(*f),
                    Val::Null => q.bind(None::<&str>),
                };
            }
        }
        q.execute(&mut **tx).await.map_err(|e| Error::Sqlite {
            path: path.to_path_buf(),
            message: format!("inserting into {name}: {e}"),
        })?;
    }
    Ok(())
}

/// `YYYY-MM-DD`.
fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `updated_at`: the event date plus 0-20 days at a random time of day.
fn updated_at(rng: &mut Rng, d: NaiveDate) -> String {
    let days = rng.range(0, 20);
    let secs = rng.range(7 * 3600, 19 * 3600 + 59 * 60);
    let at =
        d.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::days(days) + Duration::seconds(secs);
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A random day of month `m`.
fn day_in(rng: &mut Rng, m: Month) -> NaiveDate {
    m.day(rng.range(1, i64::from(m.days())) as u32)
}

// ---------------------------------------------------------------- crime --

/// Who the victim is, for age band and sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    /// No personal victim recorded (the state, a business): NULL age and sex.
    None,
    /// An adult-weighted general victim.
    Adult,
    /// Sexual offences: young, mostly female.
    Sexual,
    /// A child victim.
    Child,
    /// Robbery and theft from the person: young, mostly male.
    Young,
    /// Sometimes a person, sometimes a business or the public (p = person).
    Mixed,
}

/// One Home Office offence classification with its flag propensities.
struct Offence {
    code: &'static str,
    desc: &'static str,
    weight: f64,
    /// Chance of the domestic-abuse flag.
    da: f64,
    /// Chance of a hate-crime flag (1.0 for racially/religiously aggravated).
    hate: f64,
    /// Racially or religiously aggravated classification.
    aggravated: bool,
    /// Chance of the knife/sharp-object flag.
    knife: f64,
    victim: Victim,
}

const fn o(
    code: &'static str,
    desc: &'static str,
    weight: f64,
    da: f64,
    hate: f64,
    knife: f64,
    victim: Victim,
) -> Offence {
    Offence {
        code,
        desc,
        weight,
        da,
        hate,
        aggravated: false,
        knife,
        victim,
    }
}

const fn agg(code: &'static str, desc: &'static str, weight: f64, victim: Victim) -> Offence {
    Offence {
        code,
        desc,
        weight,
        da: 0.0,
        hate: 1.0,
        aggravated: true,
        knife: 0.0,
        victim,
    }
}

use Victim::{Adult, Child, Mixed, Sexual, Young};

const VIOLENCE: &[Offence] = &[
    o("8N", "Assault with injury", 26.0, 0.34, 0.008, 0.016, Adult),
    o(
        "5D",
        "Assault with intent to cause serious harm",
        1.3,
        0.2,
        0.01,
        0.15,
        Adult,
    ),
    o("5E", "Endangering life", 0.3, 0.1, 0.0, 0.12, Adult),
    agg(
        "8P",
        "Racially or religiously aggravated assault with injury",
        0.5,
        Adult,
    ),
    o(
        "105A",
        "Assault without injury",
        27.0,
        0.31,
        0.008,
        0.002,
        Adult,
    ),
    agg(
        "105B",
        "Racially or religiously aggravated assault without injury",
        1.0,
        Adult,
    ),
    o(
        "104",
        "Assault without injury on a constable",
        2.5,
        0.0,
        0.01,
        0.0,
        Adult,
    ),
    o("3B", "Threats to kill", 2.5, 0.45, 0.01, 0.06, Adult),
    o("8L", "Harassment", 6.0, 0.42, 0.01, 0.0, Adult),
    agg(
        "8M",
        "Racially or religiously aggravated harassment",
        0.5,
        Adult,
    ),
    o("8Q", "Stalking", 8.0, 0.5, 0.005, 0.0, Adult),
    o(
        "8R",
        "Malicious communications",
        9.0,
        0.28,
        0.02,
        0.0,
        Adult,
    ),
    o(
        "8U",
        "Controlling or coercive behaviour",
        4.0,
        1.0,
        0.0,
        0.0,
        Adult,
    ),
    o(
        "11A",
        "Cruelty to children/young persons",
        1.5,
        0.5,
        0.0,
        0.0,
        Child,
    ),
    o(
        "19C",
        "Rape of a female aged 16 and over",
        2.4,
        0.4,
        0.0,
        0.01,
        Sexual,
    ),
    o(
        "19D",
        "Rape of a female aged under 16",
        0.8,
        0.25,
        0.0,
        0.0,
        Sexual,
    ),
    o(
        "20A",
        "Sexual assault on a female aged 13 and over",
        2.8,
        0.1,
        0.0,
        0.0,
        Sexual,
    ),
    o(
        "20B",
        "Sexual assault on a female child under 13",
        0.5,
        0.2,
        0.0,
        0.0,
        Sexual,
    ),
    o(
        "17A",
        "Sexual assault on a male aged 13 and over",
        0.5,
        0.05,
        0.0,
        0.0,
        Sexual,
    ),
    o(
        "22B",
        "Sexual activity involving a child under 16",
        0.6,
        0.05,
        0.0,
        0.0,
        Sexual,
    ),
    o("88A", "Sexual grooming", 0.2, 0.0, 0.0, 0.0, Sexual),
    o("88E", "Exposure and voyeurism", 1.2, 0.02, 0.0, 0.0, Sexual),
    o(
        "4.4",
        "Causing death or serious injury by dangerous driving",
        0.1,
        0.0,
        0.0,
        0.0,
        Adult,
    ),
];

const PUBLIC_ORDER: &[Offence] = &[
    o(
        "9A",
        "Public fear, alarm or distress",
        70.0,
        0.06,
        0.03,
        0.0,
        Mixed,
    ),
    agg(
        "9B",
        "Racially or religiously aggravated public fear, alarm or distress",
        8.0,
        Adult,
    ),
    o("62A", "Violent disorder", 1.0, 0.0, 0.02, 0.0, Victim::None),
    o(
        "66",
        "Other offences against the State or public order",
        21.0,
        0.05,
        0.01,
        0.0,
        Victim::None,
    ),
];

const CRIMINAL_DAMAGE: &[Offence] = &[
    o(
        "58A",
        "Criminal damage to a dwelling",
        30.0,
        0.15,
        0.006,
        0.0,
        Adult,
    ),
    o(
        "58B",
        "Criminal damage to a building other than a dwelling",
        14.0,
        0.0,
        0.004,
        0.0,
        Mixed,
    ),
    o(
        "58C",
        "Criminal damage to a vehicle",
        32.0,
        0.06,
        0.004,
        0.0,
        Adult,
    ),
    o(
        "58D",
        "Other criminal damage",
        17.0,
        0.05,
        0.004,
        0.0,
        Mixed,
    ),
    agg(
        "58J",
        "Racially or religiously aggravated criminal damage",
        1.0,
        Mixed,
    ),
    o("56A", "Arson endangering life", 1.0, 0.2, 0.0, 0.0, Adult),
    o(
        "56B",
        "Arson not endangering life",
        5.0,
        0.03,
        0.0,
        0.0,
        Mixed,
    ),
];

const SHOPLIFTING: &[Offence] = &[o("46", "Shoplifting", 1.0, 0.0, 0.0, 0.0, Victim::None)];

const OTHER_THEFT: &[Offence] = &[
    o("49", "Other theft", 70.0, 0.02, 0.001, 0.0, Mixed),
    o(
        "40",
        "Theft in a dwelling other than from an automatic machine or meter",
        12.0,
        0.1,
        0.0,
        0.0,
        Adult,
    ),
    o(
        "41",
        "Theft by an employee",
        3.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o("35", "Blackmail", 3.0, 0.05, 0.0, 0.0, Adult),
    o(
        "47",
        "Theft from an automatic machine or meter",
        1.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
];

const VEHICLE: &[Offence] = &[
    o("45", "Theft from a vehicle", 50.0, 0.0, 0.0, 0.0, Adult),
    o(
        "48",
        "Theft or unauthorised taking of a motor vehicle",
        30.0,
        0.01,
        0.0,
        0.0,
        Adult,
    ),
    o(
        "37.2",
        "Aggravated vehicle taking",
        3.0,
        0.0,
        0.0,
        0.0,
        Adult,
    ),
    o(
        "126",
        "Interfering with a motor vehicle",
        17.0,
        0.0,
        0.0,
        0.0,
        Adult,
    ),
];

const BURGLARY: &[Offence] = &[
    o(
        "28E",
        "Burglary - residential",
        55.0,
        0.04,
        0.002,
        0.0,
        Adult,
    ),
    o(
        "28G",
        "Burglary - residential (non-dwelling)",
        15.0,
        0.01,
        0.0,
        0.0,
        Adult,
    ),
    o(
        "29",
        "Aggravated burglary in a dwelling",
        1.5,
        0.05,
        0.0,
        0.0,
        Adult,
    ),
    o(
        "30C",
        "Burglary - business and community",
        27.0,
        0.0,
        0.002,
        0.0,
        Victim::None,
    ),
    o(
        "31",
        "Aggravated burglary - business and community",
        0.3,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
];

const DRUGS: &[Offence] = &[
    o(
        "92A",
        "Trafficking in controlled drugs",
        20.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "92C",
        "Other drug offences",
        4.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "92D",
        "Possession of controlled drugs (excluding cannabis)",
        18.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "92E",
        "Possession of controlled drugs (cannabis)",
        58.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
];

const OTHER_CRIME: &[Offence] = &[
    o(
        "33",
        "Going equipped for stealing, etc.",
        6.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o("61", "Other forgery", 6.0, 0.0, 0.0, 0.0, Victim::None),
    o(
        "80",
        "Absconding from lawful custody",
        2.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "86",
        "Obscene publications, etc. and protected sexual material",
        30.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "99",
        "Other notifiable offences",
        56.0,
        0.28,
        0.005,
        0.0,
        Mixed,
    ),
];

const WEAPONS: &[Offence] = &[
    o(
        "10A",
        "Possession of firearms with intent",
        2.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "10C",
        "Possession of other weapons",
        30.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "10D",
        "Possession of article with blade or point",
        60.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
    o(
        "81",
        "Other firearms offences",
        8.0,
        0.0,
        0.0,
        0.0,
        Victim::None,
    ),
];

const ROBBERY: &[Offence] = &[
    o(
        "34B",
        "Robbery of personal property",
        88.0,
        0.01,
        0.01,
        0.12,
        Young,
    ),
    o(
        "34A",
        "Robbery of business property",
        12.0,
        0.0,
        0.0,
        0.22,
        Victim::None,
    ),
];

const THEFT_PERSON: &[Offence] = &[o(
    "39",
    "Theft from the person",
    1.0,
    0.0,
    0.002,
    0.0,
    Young,
)];

const BICYCLE: &[Offence] = &[o(
    "44",
    "Theft or unauthorised taking of a pedal cycle",
    1.0,
    0.0,
    0.0,
    0.0,
    Adult,
)];

/// Offence tables in [`police::CRIME_TYPES`] order.
const OFFENCES: [&[Offence]; 13] = [
    VIOLENCE,
    PUBLIC_ORDER,
    CRIMINAL_DAMAGE,
    SHOPLIFTING,
    OTHER_THEFT,
    VEHICLE,
    BURGLARY,
    DRUGS,
    OTHER_CRIME,
    WEAPONS,
    ROBBERY,
    THEFT_PERSON,
    BICYCLE,
];

/// Victim age bands as the extract records them.
const AGE_BANDS: [&str; 7] = ["0-9", "10-17", "18-24", "25-34", "35-49", "50-64", "65+"];

/// Homicides a year, force-wide.
const HOMICIDES_PER_YEAR: f64 = 12.5;

/// Age band weights by victim type.
fn band_weights(v: Victim, knife: bool) -> [f64; 7] {
    if knife {
        return [1.0, 11.0, 18.0, 26.0, 27.0, 13.0, 4.0];
    }
    match v {
        Victim::Sexual => [6.0, 30.0, 20.0, 18.0, 16.0, 7.0, 3.0],
        Victim::Child => [55.0, 45.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        Victim::Young => [1.0, 22.0, 25.0, 20.0, 18.0, 10.0, 4.0],
        _ => [3.0, 10.0, 15.0, 23.0, 27.0, 15.0, 7.0],
    }
}

/// Hate strands: race, religion, sexual orientation, disability, transgender.
const STRANDS_NON_AGGRAVATED: [f64; 5] = [10.0, 5.0, 45.0, 30.0, 10.0];
/// Second-strand weights (any strand but the first).
const STRANDS_ANY: [f64; 5] = [70.0, 6.0, 14.0, 8.0, 3.0];

/// Home Office outcome type for a police.uk outcome category.
fn outcome_code(rng: &mut Rng, outcome: u8, da: bool) -> Option<i64> {
    Some(match police::OUTCOMES[outcome as usize] {
        "Under investigation" => return None,
        "Investigation complete; no suspect identified" => 18,
        "Unable to prosecute suspect" => {
            if da {
                *rng.pick(&[16, 16, 16, 15, 14])
            } else {
                *rng.pick(&[14, 15, 15, 16])
            }
        }
        "Further investigation is not in the public interest" => 21,
        "Formal action is not in the public interest" => 10,
        "Local resolution" => {
            if rng.chance(0.15) {
                22
            } else {
                8
            }
        }
        "Offender given a caution" => {
            if rng.chance(0.1) {
                2
            } else {
                3
            }
        }
        "Offender given a drugs possession warning" => 7,
        "Action to be taken by another organisation" => 20,
        "Offender given penalty notice" => 6,
        "Status update unavailable" => 18,
        _ => 1,
    })
}

/// Rows of `crime_extract`, one per police.uk crime row, same ids and order.
fn crime_rows(plan: &Plan, crimes: &[Crime]) -> Rows {
    let cat = &plan.catalogue;
    let mut out = Vec::with_capacity(crimes.len());
    let mut start = 0;
    while start < crimes.len() {
        let m = crimes[start].month;
        let end = start + crimes[start..].partition_point(|c| c.month == m);
        let month_crimes = &crimes[start..end];
        start = end;

        let mut rng = Rng::stream(plan.seed, "crime-extract", m.index() as u64);
        // Homicides: a few violence rows a month, in the force area.
        let eligible: Vec<usize> = month_crimes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.crime_type == police::VIOLENCE && c.district.is_some())
            .map(|(i, _)| i)
            .collect();
        let mut homicides = Vec::new();
        if !eligible.is_empty() {
            let n = rng.poisson(HOMICIDES_PER_YEAR / 12.0);
            for _ in 0..n {
                let i = *rng.pick(&eligible);
                if !homicides.contains(&i) {
                    homicides.push(i);
                }
            }
        }
        let label = m.label();
        for (i, c) in month_crimes.iter().enumerate() {
            out.push(crime_row(&mut rng, c, &label, homicides.contains(&i), cat));
        }
    }
    out
}

fn crime_row(
    rng: &mut Rng,
    c: &Crime,
    label: &str,
    homicide: bool,
    cat: &places::Catalogue,
) -> Vec<Val> {
    let recorded = day_in(rng, c.month);
    let (lsoa_code, district_code): (Option<String>, Option<&'static str>) = match c.place {
        Place::Lsoa(l, _) => {
            let l = &cat.lsoas[l as usize];
            (Some(l.code.clone()), l.district.map(|d| DISTRICTS[d].code))
        }
        Place::Away(a, _) => (Some(cat.out_of_area[a as usize].code.clone()), None),
        Place::Nowhere => (None, c.district.map(|d| DISTRICTS[d as usize].code)),
    };
    let table = OFFENCES[c.crime_type as usize];
    let (code, desc, da, hate, aggravated, knife, victim) = if homicide {
        let murder = rng.chance(0.8);
        (
            "1",
            if murder { "Murder" } else { "Manslaughter" },
            rng.chance(0.25),
            rng.chance(0.03),
            false,
            rng.chance(0.4),
            Victim::Adult,
        )
    } else {
        let weights: Vec<f64> = table.iter().map(|x| x.weight).collect();
        let off = &table[rng.weighted(&weights)];
        (
            off.code,
            off.desc,
            rng.chance(off.da),
            rng.chance(off.hate),
            off.aggravated,
            rng.chance(off.knife),
            off.victim,
        )
    };
    // Hate strands: aggravated offences are race (or religion); others spread
    // over the strands; a tenth carry a second strand.
    let mut strands = [false; 5];
    if hate {
        let first = if aggravated {
            if rng.chance(0.9) { 0 } else { 1 }
        } else {
            rng.weighted(&STRANDS_NON_AGGRAVATED)
        };
        strands[first] = true;
        if rng.chance(0.1) {
            let mut w = STRANDS_ANY;
            w[first] = 0.0;
            strands[rng.weighted(&w)] = true;
        }
    }
    let person = match victim {
        Victim::None => false,
        Victim::Mixed => rng.chance(0.5) || da,
        _ => true,
    };
    let (age_band, sex, repeat) = if person {
        let band = if rng.chance(0.04) {
            None
        } else if homicide {
            Some(AGE_BANDS[rng.weighted(&[1.5, 4.0, 14.0, 22.0, 28.0, 18.0, 12.5])])
        } else if da {
            Some(AGE_BANDS[rng.weighted(&[1.0, 4.0, 18.0, 30.0, 30.0, 13.0, 4.0])])
        } else {
            Some(AGE_BANDS[rng.weighted(&band_weights(victim, knife))])
        };
        let female = if homicide {
            0.3
        } else if da || victim == Victim::Sexual {
            0.7
        } else if victim == Victim::Young {
            0.3
        } else {
            0.47
        };
        let sex = if rng.chance(0.02) {
            None
        } else if rng.chance(female) {
            Some("F")
        } else {
            Some("M")
        };
        let p_repeat = if da {
            0.3
        } else if hate {
            0.15
        } else {
            0.08
        };
        (band, sex, rng.chance(p_repeat))
    } else {
        (None, None, false)
    };
    let outcome = if homicide && c.outcome == 0 {
        None
    } else {
        outcome_code(rng, c.outcome, da)
    };
    let updated = updated_at(rng, recorded);
    let mut id = [0u8; 64];
    let _ = hex::encode_to_slice(c.id, &mut id);
    vec![
        Val::Text(String::from_utf8_lossy(&id).into_owned()),
        Val::Text(date_text(recorded)),
        Val::Text(label.to_string()),
        lsoa_code.into(),
        district_code.into(),
        Val::Str(police::CRIME_TYPES[c.crime_type as usize].0),
        Val::Str(code),
        Val::Str(desc),
        da.into(),
        strands[0].into(),
        strands[1].into(),
        strands[2].into(),
        strands[3].into(),
        strands[4].into(),
        knife.into(),
        age_band.into(),
        sex.into(),
        repeat.into(),
        outcome.into(),
        Val::Text(updated),
    ]
}

// ------------------------------------------------------- service tables --

/// District weights: population times `0.6 + k * deprivation`, normalised.
fn district_weights(k: f64) -> Vec<f64> {
    let raw: Vec<f64> = DISTRICTS
        .iter()
        .map(|d| f64::from(d.population) * (0.6 + k * places::shape(d).deprivation))
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|r| r / total).collect()
}

/// Flat seasonality.
const FLAT: [f64; 12] = [1.0; 12];
/// Summer-peaking seasonality (missing children, ASB, assaults).
const SUMMER: [f64; 12] = [
    0.88, 0.85, 0.95, 1.0, 1.08, 1.1, 1.12, 1.1, 1.0, 1.02, 0.95, 0.95,
];
/// School-term seasonality (referrals from schools dip in August).
const TERM: [f64; 12] = [
    1.05, 1.05, 1.1, 0.95, 1.05, 1.05, 0.9, 0.6, 1.0, 1.1, 1.1, 1.05,
];
/// Christmas/World-Cup-style domestic abuse peaks in December and summer.
const DA_SEASON: [f64; 12] = [
    1.05, 0.9, 0.95, 0.95, 1.0, 1.05, 1.08, 1.05, 0.95, 0.97, 0.95, 1.1,
];

/// How one service table's events arise.
struct Spec {
    /// PRNG stream label (one stream per month).
    stream: &'static str,
    /// Id prefix, e.g. `MARAC`.
    prefix: &'static str,
    /// Force-wide events a year at trend 1.
    per_year: f64,
    /// District shares (sum 1).
    weights: Vec<f64>,
    /// Seasonal multipliers Jan..Dec.
    season: &'static [f64; 12],
    /// Trend multiplier by month.
    trend: fn(Month) -> f64,
}

/// For every month and district, draw a Poisson count of events (annual
/// force-wide `per_year`, shared by `weights`, shaped by `season` and
/// `trend(decimal year)`) and build a row for each with `row(rng, id, date,
/// district)`. Each table has its own PRNG stream per month.
fn events(
    plan: &Plan,
    spec: Spec,
    mut row: impl FnMut(&mut Rng, String, NaiveDate, &'static str) -> Vec<Val>,
) -> Rows {
    let mut out = Vec::new();
    let mut seq = 0u64;
    for m in &plan.months {
        let mut rng = Rng::stream(plan.seed, spec.stream, m.index() as u64);
        for (d, w) in spec.weights.iter().enumerate() {
            let lambda =
                spec.per_year / 12.0 * w * spec.season[(m.month - 1) as usize] * (spec.trend)(*m);
            let n = rng.poisson(lambda);
            for _ in 0..n {
                seq += 1;
                let id = format!("{}-{:04}-{seq:06}", spec.prefix, m.year);
                let date = day_in(&mut rng, *m);
                out.push(row(&mut rng, id, date, DISTRICTS[d].code));
            }
        }
    }
    out
}

fn no_trend(_: Month) -> f64 {
    1.0
}

fn adult_band(rng: &mut Rng) -> &'static str {
    AGE_BANDS[rng.weighted(&[0.0, 1.5, 20.0, 32.0, 30.0, 13.0, 3.5])]
}

fn sex_of(rng: &mut Rng, female: f64) -> &'static str {
    if rng.chance(female) { "F" } else { "M" }
}

/// MARAC: about 40 cases per 10,000 adult females a year (SafeLives), 30% repeat.
fn marac(plan: &Plan) -> Rows {
    let total_pop: f64 = DISTRICTS.iter().map(|d| f64::from(d.population)).sum();
    let adult_females = total_pop * 0.51 * 0.79;
    events(
        plan,
        Spec {
            stream: "marac",
            prefix: "MARAC",
            per_year: adult_females * 40.0 / 10_000.0,
            weights: district_weights(0.6),
            season: &DA_SEASON,
            trend: no_trend,
        },
        |rng, id, date, district| {
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                rng.chance(0.3).into(),
                sex_of(rng, 0.95).into(),
                adult_band(rng).into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// CSE/CCE referrals: tens per district a year; criminal exploitation rising.
fn exploitation(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "exploitation",
            prefix: "EXP",
            per_year: 520.0,
            weights: district_weights(1.0),
            season: &TERM,
            trend: |m| (1.0 + 0.04 * (m.decimal_year() - 2019.5)).clamp(0.6, 1.6),
        },
        |rng, id, date, district| {
            let cce = rng.chance(0.58);
            let age = 10 + rng.weighted(&[1.0, 2.0, 4.0, 8.0, 14.0, 18.0, 16.0, 10.0]) as i64;
            let sex = if cce {
                sex_of(rng, 0.2)
            } else {
                sex_of(rng, 0.8)
            };
            let nrm = rng.chance(if cce { 0.45 } else { 0.25 });
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                Val::Str(if cce { "CCE" } else { "CSE" }),
                age.into(),
                sex.into(),
                nrm.into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Children missing from home: a few hundred episodes a month.
fn missing(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "missing",
            prefix: "MFH",
            per_year: 4_200.0,
            weights: district_weights(1.0),
            season: &SUMMER,
            trend: no_trend,
        },
        |rng, id, date, district| {
            let age =
                8 + rng.weighted(&[1.0, 1.0, 2.0, 3.0, 5.0, 10.0, 16.0, 20.0, 22.0, 14.0]) as i64;
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                age.into(),
                sex_of(rng, 0.52).into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Prevent referrals: about 150 a year force-wide, so 0-4 per district-month.
fn prevent(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "prevent",
            prefix: "PRV",
            per_year: 150.0,
            weights: district_weights(0.4),
            season: &TERM,
            trend: no_trend,
        },
        |rng, id, date, district| {
            let concern = [
                "Extreme right-wing",
                "Islamist",
                "Mixed, unclear or unstable",
                "Other",
            ][rng.weighted(&[22.0, 14.0, 40.0, 24.0])];
            let band =
                ["Under 15", "15-20", "21-39", "40+"][rng.weighted(&[30.0, 35.0, 22.0, 13.0])];
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                concern.into(),
                band.into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Community tension reports, with the August 2024 disorder as a spike.
fn tension(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "tension",
            prefix: "CTR",
            per_year: 300.0,
            weights: district_weights(0.8),
            season: &FLAT,
            trend: |m| match (m.year, m.month) {
                (2024, 8) => 4.0,
                (2024, 9) => 1.8,
                (2023, 10 | 11) => 1.6,
                _ => 1.0,
            },
        },
        |rng, id, date, district| {
            let spike = date.format("%Y-%m").to_string() == "2024-08";
            let level = ["Normal", "Elevated", "High", "Critical"][rng.weighted(if spike {
                &[30.0, 40.0, 25.0, 5.0]
            } else {
                &[70.0, 22.0, 7.0, 1.0]
            })];
            let theme = [
                "Hate incident",
                "Protest or demonstration",
                "Asylum accommodation",
                "Youth disorder",
                "International events",
                "Online misinformation",
                "Far-right activity",
                "Neighbourhood dispute",
                "Sporting event",
            ][rng.weighted(&[20.0, 14.0, 10.0, 18.0, 9.0, 10.0, 6.0, 9.0, 4.0])];
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                level.into(),
                theme.into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Youth justice first-time entrants: about 170 per 100,000 aged 10-17,
/// falling over time as diversion grows.
fn first_time_entrants(plan: &Plan) -> Rows {
    let total_pop: f64 = DISTRICTS.iter().map(|d| f64::from(d.population)).sum();
    let youth = total_pop * 0.094;
    events(
        plan,
        Spec {
            stream: "fte",
            prefix: "FTE",
            per_year: youth * 170.0 / 100_000.0,
            weights: district_weights(0.9),
            season: &TERM,
            trend: |m| (1.0 - 0.04 * (m.decimal_year() - 2019.5)).clamp(0.6, 1.5),
        },
        |rng, id, date, district| {
            let age = 10 + rng.weighted(&[1.0, 2.0, 5.0, 9.0, 14.0, 20.0, 24.0, 25.0]) as i64;
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                age.into(),
                sex_of(rng, 0.18).into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Trading standards seizures: tobacco and, increasingly, illegal vapes.
fn seizures(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "ts-seizures",
            prefix: "TSS",
            per_year: 360.0,
            weights: district_weights(1.0),
            season: &FLAT,
            trend: no_trend,
        },
        |rng, id, date, district| {
            let years = f64::from(date.year());
            let vapes = (5.0 + 10.0 * (years - 2019.0)).clamp(2.0, 60.0);
            let k = rng.weighted(&[50.0, 15.0, vapes]);
            let u = rng.f64();
            let (product, quantity, price) = match k {
                0 => ("Illicit tobacco", 200.0 + u * u * u * 40_000.0, 0.4),
                1 => ("Illicit alcohol", 6.0 + u * u * 600.0, 8.0),
                _ => ("Illegal vapes", 5.0 + u * u * u * 2_000.0, 7.5),
            };
            let quantity = quantity.round();
            let value = (quantity * price * rng.uniform(0.8, 1.2) * 100.0).round() / 100.0;
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                product.into(),
                (quantity as i64).into(),
                value.into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Council ASB case management: hundreds of cases a month.
fn asb_cases(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "asb-cases",
            prefix: "ASB",
            per_year: 5_400.0,
            weights: district_weights(1.0),
            season: &SUMMER,
            trend: no_trend,
        },
        |rng, id, date, district| {
            let risk = ["Standard", "Medium", "High"][rng.weighted(&[70.0, 22.0, 8.0])];
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                risk.into(),
                rng.chance(0.22).into(),
                rng.chance(0.004).into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Hospital admissions for assault: about 600 a year, 15% sharp object,
/// about 35% aged under 25.
fn hospital(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "hospital",
            prefix: "HAA",
            per_year: 600.0,
            weights: district_weights(1.2),
            season: &SUMMER,
            trend: no_trend,
        },
        |rng, id, date, district| {
            let (lo, hi) = [
                (0, 9),
                (10, 17),
                (18, 24),
                (25, 34),
                (35, 49),
                (50, 64),
                (65, 90),
            ][rng.weighted(&[1.0, 8.0, 26.0, 25.0, 24.0, 12.0, 4.0])];
            let age = rng.range(lo, hi);
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                age.into(),
                sex_of(rng, 0.25).into(),
                rng.chance(0.15).into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Organised crime group disruptions.
fn ocg(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "ocg",
            prefix: "OCG",
            per_year: 360.0,
            weights: district_weights(1.2),
            season: &FLAT,
            trend: no_trend,
        },
        |rng, id, date, district| {
            let impact = ["Major", "Moderate", "Minor"][rng.weighted(&[10.0, 35.0, 55.0])];
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                impact.into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Safe accommodation referrals (Domestic Abuse Act 2021 Part 4 duty).
fn safe_accommodation(plan: &Plan) -> Rows {
    events(
        plan,
        Spec {
            stream: "safe-accommodation",
            prefix: "SAR",
            per_year: 1_440.0,
            weights: district_weights(0.8),
            season: &DA_SEASON,
            trend: |m| (1.0 + 0.05 * (m.decimal_year() - 2021.5)).clamp(0.6, 1.6),
        },
        |rng, id, date, district| {
            let outcome = [
                "Accommodated in refuge",
                "Dispersed accommodation",
                "Sanctuary scheme",
                "No suitable vacancy",
                "Referred to another area",
                "Declined by client",
            ][rng.weighted(&[30.0, 15.0, 20.0, 15.0, 10.0, 10.0])];
            vec![
                id.into(),
                date_text(date).into(),
                district.into(),
                outcome.into(),
                updated_at(rng, date).into(),
            ]
        },
    )
}

/// Helpers for tests elsewhere in the module.
#[cfg(test)]
pub(crate) mod tests_support {
    use sqlx::{Connection, Row, SqliteConnection};
    use std::path::Path;

    async fn open(db: &Path) -> SqliteConnection {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(db);
        SqliteConnection::connect_with(&opts).await.unwrap()
    }

    /// Every crime id in `crime_extract`.
    pub async fn crime_ids(db: &Path) -> Vec<String> {
        let mut c = open(db).await;
        sqlx::query("SELECT crime_id FROM crime_extract")
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    }

    /// Row count of every partner table.
    pub async fn table_counts(db: &Path) -> Vec<(String, i64)> {
        let mut c = open(db).await;
        let mut out = Vec::new();
        for t in super::table_names() {
            let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {t}"))
                .fetch_one(&mut c)
                .await
                .unwrap()
                .get(0);
            out.push((t.to_string(), n));
        }
        out
    }

    /// One scalar from a query.
    pub async fn scalar_f64(db: &Path, sql: &str) -> f64 {
        let mut c = open(db).await;
        sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0)
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::scalar_f64;
    use crate::demo::{DemoOptions, generate};
    use chrono::NaiveDate;

    #[test]
    fn offence_tables_cover_every_crime_type() {
        assert_eq!(super::OFFENCES.len(), super::police::CRIME_TYPES.len());
        assert!(super::OFFENCES.iter().all(|t| !t.is_empty()));
    }

    #[tokio::test]
    async fn flag_rates_are_realistic() {
        let t = tempfile::tempdir().unwrap();
        let d = generate(&DemoOptions {
            dir: t.path().to_path_buf(),
            seed: 9,
            years: 1,
            end_month: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            partner_db: true,
        })
        .await
        .unwrap();
        let db = d.partner_db.unwrap();
        let q = |sql: &'static str| scalar_f64(&db, sql);
        let da = q("SELECT AVG(domestic_abuse) * 1.0 FROM crime_extract").await;
        assert!((0.13..0.19).contains(&da), "DA share {da}");
        let hate = q(
            "SELECT AVG(MAX(hate_race, hate_religion, hate_sexual_orientation, \
                      hate_disability, hate_transgender)) * 1.0 FROM crime_extract",
        )
        .await;
        assert!((0.018..0.032).contains(&hate), "hate share {hate}");
        let race = q(
            "SELECT SUM(hate_race) * 1.0 / SUM(MAX(hate_race, hate_religion, \
                      hate_sexual_orientation, hate_disability, hate_transgender)) \
                      FROM crime_extract",
        )
        .await;
        assert!((0.6..0.8).contains(&race), "race share of hate {race}");
        let strands = q(
            "SELECT SUM(hate_race + hate_religion + hate_sexual_orientation + \
                         hate_disability + hate_transgender) * 1.0 / SUM(MAX(hate_race, \
                         hate_religion, hate_sexual_orientation, hate_disability, \
                         hate_transgender)) FROM crime_extract",
        )
        .await;
        assert!(strands > 1.03, "strands per hate crime {strands}");
        let knife = q("SELECT AVG(knife_sharp_object) * 1.0 FROM crime_extract \
                       WHERE crime_type IN ('Violence and sexual offences', 'Robbery')")
        .await;
        assert!((0.008..0.018).contains(&knife), "knife share {knife}");
        let homicides =
            q("SELECT COUNT(*) * 1.0 FROM crime_extract WHERE ho_offence_code = '1'").await;
        assert!((3.0..30.0).contains(&homicides), "{homicides} homicides");
        let young_knife = q(
            "SELECT AVG(victim_age_band IN ('0-9','10-17','18-24')) * 1.0 \
                             FROM crime_extract WHERE knife_sharp_object = 1 \
                             AND victim_age_band IS NOT NULL",
        )
        .await;
        assert!(
            (0.2..0.45).contains(&young_knife),
            "under-25 knife {young_knife}"
        );
        let da_f = q("SELECT AVG(victim_sex = 'F') * 1.0 FROM crime_extract \
                      WHERE domestic_abuse = 1 AND victim_sex IS NOT NULL")
        .await;
        assert!((0.62..0.78).contains(&da_f), "DA female {da_f}");
        let open_latest = q("SELECT AVG(outcome_code IS NULL) * 1.0 FROM crime_extract \
                             WHERE month = '2024-03'")
        .await;
        let open_oldest = q("SELECT AVG(outcome_code IS NULL) * 1.0 FROM crime_extract \
                             WHERE month = '2023-04'")
        .await;
        assert!(
            open_latest > 0.4 && open_oldest < 0.2,
            "{open_latest} {open_oldest}"
        );
        let no_lsoa_district = q("SELECT COUNT(*) * 1.0 FROM crime_extract \
                                  WHERE lsoa_code IS NOT NULL AND district_code IS NULL")
        .await;
        assert!(no_lsoa_district > 0.0, "no out-of-area crimes");
        let marac = q("SELECT COUNT(*) * 1.0 FROM marac_cases").await;
        assert!((2_000.0..3_100.0).contains(&marac), "{marac} MARAC cases");
        let prevent = q("SELECT COUNT(*) * 1.0 FROM prevent_referrals").await;
        assert!(
            (100.0..210.0).contains(&prevent),
            "{prevent} Prevent referrals"
        );
        let sharp = q("SELECT AVG(sharp_object) * 1.0 FROM hospital_assault_admissions").await;
        assert!((0.09..0.22).contains(&sharp), "sharp {sharp}");
        let bad_district = q(
            "SELECT COUNT(*) * 1.0 FROM marac_cases WHERE district_code \
                              NOT LIKE 'E0%'",
        )
        .await;
        assert_eq!(bad_district, 0.0);
    }
}
