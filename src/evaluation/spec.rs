//! An indicator's evaluation settings, parsed from its metadata header.
//!
//! Officers write words (`unit: rate per 1,000`, `denominator: adult
//! females`); this turns them into types once, and lists every problem so a
//! broken header is reported whole, with the file.

use serde::{Deserialize, Serialize};

use super::periods::{Calendar, PeriodType};
use super::rag::{Target, Tolerance};
use super::spc::Polarity;
use crate::indicators::Indicator;

/// What the value is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Unit {
    /// A count.
    Count,
    /// A rate per `per` people of the denominator population.
    Rate {
        /// 1,000, 10,000 or 100,000.
        per: f64,
    },
    /// numerator / denominator × 100, both from the query.
    Percentage,
}

impl Unit {
    /// Text for tables.
    pub fn label(&self) -> String {
        match self {
            Unit::Count => "count".into(),
            Unit::Rate { per } => format!("rate per {}", thousands(*per)),
            Unit::Percentage => "percentage".into(),
        }
    }
}

/// A whole number with thousands separators: `1,234,567`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Which population a rate is per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Population {
    /// Everyone.
    AllPeople,
    /// Women aged 18 and over.
    AdultFemales,
    /// Females aged 16 and over: SafeLives publishes MARAC cases per 10,000
    /// of them.
    Females16Plus,
    /// All females (VAWG rates).
    Females,
    /// People aged under 25 (Serious Violence Duty).
    Under25,
    /// Children aged 10-17 (youth justice).
    Age10To17,
}

impl Population {
    /// Text for tables.
    pub fn label(self) -> &'static str {
        match self {
            Population::AllPeople => "all people",
            Population::AdultFemales => "females aged 18+",
            Population::Females16Plus => "females aged 16+",
            Population::Females => "females",
            Population::Under25 => "people aged under 25",
            Population::Age10To17 => "children aged 10-17",
        }
    }

    /// Whether a person of this sex and age counts.
    pub fn includes(self, female: bool, age: i64) -> bool {
        match self {
            Population::AllPeople => true,
            Population::AdultFemales => female && age >= 18,
            Population::Females16Plus => female && age >= 16,
            Population::Females => female,
            Population::Under25 => age < 25,
            Population::Age10To17 => (10..=17).contains(&age),
        }
    }

    /// All kinds.
    pub const ALL: [Population; 6] = [
        Population::AllPeople,
        Population::AdultFemales,
        Population::Females16Plus,
        Population::Females,
        Population::Under25,
        Population::Age10To17,
    ];
}

/// Who may see the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Disclosure {
    /// Public committee papers: small numbers suppressed.
    Public,
    /// Officers only: everything shown.
    Internal,
}

/// How monthly values add up to a quarter, a year or a rolling year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Aggregate {
    /// Add the months (counts of events; the default for counts and rates).
    Sum,
    /// Add numerators and denominators separately, then divide (the
    /// default, and the only sound choice, for percentages).
    Ratio,
    /// The mean of the months that have data (a monthly average).
    Average,
    /// The period's latest month with data: a snapshot such as open cases,
    /// which must not be added across months.
    Latest,
    /// A count of distinct things (LSOAs, people) that cannot be added
    /// across months: only monthly figures are reported.
    Distinct,
}

impl Aggregate {
    /// In words, for packs and the dictionary.
    pub fn label(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum of the months",
            Aggregate::Ratio => "ratio of the summed numerators and denominators",
            Aggregate::Average => "average of the months",
            Aggregate::Latest => "latest month in the period",
            Aggregate::Distinct => "distinct count: monthly figures only",
        }
    }
}

/// The allowed values of a header key, from the one table of keys.
fn values(key: &str) -> &'static str {
    crate::indicators::header::key(key)
        .map(|k| k.values)
        .unwrap_or("")
}

/// Parsed evaluation settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    /// Unit.
    pub unit: Unit,
    /// Denominator population for rates.
    pub population: Option<Population>,
    /// Polarity.
    pub polarity: Polarity,
    /// Target, if any.
    pub target: Option<Target>,
    /// Tolerance around the target.
    pub tolerance: Option<Tolerance>,
    /// Period type the target applies to.
    pub target_period: PeriodType,
    /// Reporting year.
    pub calendar: Calendar,
    /// Disclosure class.
    pub disclosure: Disclosure,
    /// How months add up to longer periods.
    pub aggregate: Aggregate,
    /// The latest months still being recorded (outcomes not yet known):
    /// periods that include them are marked provisional and not rated, and
    /// the SPC chart stops before them.
    pub provisional_months: u32,
}

impl Spec {
    /// Parse from an indicator's header; every problem is returned.
    pub fn from_indicator(ind: &Indicator) -> Result<Spec, Vec<String>> {
        let mut problems = Vec::new();
        let get = |k: &str| ind.meta.get(k).map(|v| v.trim().to_ascii_lowercase());
        let unit = match get("unit").as_deref().unwrap_or("count") {
            "count" | "number" => Unit::Count,
            "percentage" | "percent" | "%" => Unit::Percentage,
            u => match u
                .strip_prefix("rate per ")
                .map(|n| n.replace(',', "").trim().parse::<f64>())
            {
                Some(Ok(per)) if per > 0.0 => Unit::Rate { per },
                _ => {
                    problems.push(format!("unit `{u}`: use {}", values("unit")));
                    Unit::Count
                }
            },
        };
        let population = match get("denominator").as_deref() {
            None | Some("none") | Some("") => None,
            Some("all people" | "all" | "population") => Some(Population::AllPeople),
            Some("adult females" | "females aged 18+" | "women") => Some(Population::AdultFemales),
            Some("females" | "all females") => Some(Population::Females),
            Some("females aged 16+" | "females aged 16 and over" | "women aged 16+") => {
                Some(Population::Females16Plus)
            }
            Some("under-25s" | "under 25s" | "people aged under 25" | "under 25") => {
                Some(Population::Under25)
            }
            Some("10-17 year olds" | "children aged 10-17" | "aged 10-17") => {
                Some(Population::Age10To17)
            }
            Some(other) => {
                problems.push(format!(
                    "denominator `{other}`: use {}",
                    values("denominator")
                ));
                None
            }
        };
        if matches!(unit, Unit::Rate { .. })
            && population.is_none()
            && ind.meta.contains_key("denominator")
        {
            problems.push("denominator `none`: a rate needs the population it is per".into());
        }
        let polarity = Polarity::parse(&ind.polarity).unwrap_or_else(|| {
            problems.push(format!(
                "polarity `{}`: use {}",
                ind.polarity,
                values("polarity")
            ));
            Polarity::Monitor
        });
        let target = match get("target") {
            None => None,
            Some(t) if t == "none" || t.is_empty() => None,
            Some(t) => match Target::parse(&t) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push(e);
                    None
                }
            },
        };
        let tolerance = match get("tolerance") {
            None => None,
            Some(t) => match Tolerance::parse(&t) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push(e);
                    None
                }
            },
        };
        if target.is_some() && polarity == Polarity::Monitor {
            problems.push("a monitor-only indicator cannot have a target (it gets no RAG)".into());
        }
        let calendar = match get("calendar").as_deref() {
            None | Some("financial year" | "financial" | "april-march") => Calendar::Financial,
            Some("calendar year" | "calendar" | "january-december") => Calendar::Calendar,
            Some(other) => {
                problems.push(format!("calendar `{other}`: use {}", values("calendar")));
                Calendar::Financial
            }
        };
        let target_period = match get("target_period").as_deref() {
            None => match calendar {
                Calendar::Financial => PeriodType::FinancialYear,
                Calendar::Calendar => PeriodType::CalendarYear,
            },
            Some("rolling 12 months" | "rolling_12_months") => PeriodType::Rolling12,
            Some("financial year" | "financial_year") => PeriodType::FinancialYear,
            Some("calendar year" | "calendar_year") => PeriodType::CalendarYear,
            Some("quarter") => PeriodType::Quarter,
            Some("month") => PeriodType::Month,
            Some(other) => {
                problems.push(format!(
                    "target_period `{other}`: use {}",
                    values("target_period")
                ));
                PeriodType::FinancialYear
            }
        };
        let disclosure = match get("disclosure").as_deref() {
            None | Some("public") => Disclosure::Public,
            Some("internal") => Disclosure::Internal,
            Some(other) => {
                problems.push(format!(
                    "disclosure `{other}`: use {}",
                    values("disclosure")
                ));
                Disclosure::Public
            }
        };
        let aggregate = match get("aggregate").as_deref() {
            None => match unit {
                Unit::Percentage => Aggregate::Ratio,
                _ => Aggregate::Sum,
            },
            Some("sum") => Aggregate::Sum,
            Some("ratio" | "ratio of sums") => Aggregate::Ratio,
            Some("average" | "mean") => Aggregate::Average,
            Some("latest" | "snapshot") => Aggregate::Latest,
            Some("distinct") => Aggregate::Distinct,
            Some(other) => {
                problems.push(format!("aggregate `{other}`: use {}", values("aggregate")));
                Aggregate::Sum
            }
        };
        match (unit, aggregate) {
            (Unit::Percentage, Aggregate::Sum) => problems.push(
                "aggregate `sum`: percentages cannot be added; use `ratio` (the default), `average` or `latest`".into(),
            ),
            (Unit::Count | Unit::Rate { .. }, Aggregate::Ratio) => problems.push(
                "aggregate `ratio` is for percentages (a numerator over a denominator); a count or rate uses sum, average, latest or distinct".into(),
            ),
            _ => {}
        }
        if aggregate == Aggregate::Distinct
            && !matches!(target_period, PeriodType::Month)
            && target.is_some()
        {
            problems.push(
                "aggregate `distinct` reports monthly figures only, so a target needs `target_period: month`".into(),
            );
        }
        let provisional_months = match get("provisional_months") {
            None => 0,
            Some(n) => match n.parse::<u32>() {
                Ok(n) if n <= 12 => n,
                _ => {
                    problems.push(format!(
                        "provisional_months `{n}`: use {}",
                        values("provisional_months")
                    ));
                    0
                }
            },
        };
        if problems.is_empty() {
            Ok(Spec {
                aggregate,
                provisional_months,
                unit,
                population,
                polarity,
                target,
                tolerance,
                target_period,
                calendar,
                disclosure,
            })
        } else {
            Err(problems)
        }
    }
}
