//! The indicator header: one table of keys that the parser, `safer check`,
//! `safer new`, `safer docs` and the officers' guide all read, so they
//! cannot disagree about what a key means or which values it takes.
//!
//! Adding a key: a row in [`KEYS`], its reading in `evaluation::spec` if the
//! evaluation uses it, and a line in a shipped indicator that shows it.

use super::Indicator;

/// When a key must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Every indicator states it.
    Required,
    /// Required when the unit is a rate.
    ForRates,
    /// Optional; the default applies when it is left out.
    Optional,
}

/// One header key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The key as written (`-- unit: count`).
    pub name: &'static str,
    /// What it means, for people.
    pub meaning: &'static str,
    /// The values it takes, in words.
    pub values: &'static str,
    /// What applies when it is left out.
    pub default: Option<&'static str>,
    /// Whether it must be present.
    pub need: Need,
    /// An example value, for `safer new`.
    pub example: &'static str,
}

/// Every key an indicator header may have, in the order a header lists them.
pub const KEYS: &[Key] = &[
    Key {
        name: "id",
        meaning: "the indicator's identifier, used by outputs, tests, commentary and `safer query`; usually the file name",
        values: "lower-case letters, digits and _",
        default: None,
        need: Need::Required,
        example: "asb_incidents",
    },
    Key {
        name: "title",
        meaning: "the name printed in packs and workbooks",
        values: "text",
        default: None,
        need: Need::Required,
        example: "Anti-social behaviour incidents",
    },
    Key {
        name: "description",
        meaning: "what is counted, in a sentence or two a councillor can follow; continue on further `--` lines",
        values: "text",
        default: None,
        need: Need::Required,
        example: "Incidents of anti-social behaviour reported to the police.",
    },
    Key {
        name: "priority",
        meaning: "the Community Safety Agreement priority or strategy it reports under; the section of the pack",
        values: "text, e.g. Anti-social behaviour, Domestic abuse, Hate crime, Road safety",
        default: None,
        need: Need::Required,
        example: "Anti-social behaviour",
    },
    Key {
        name: "group",
        meaning: "indicators with the same group (a count and its rate, the strands of one crime) sit together in the pack, under one heading in the headline table",
        values: "text",
        default: None,
        need: Need::Optional,
        example: "Anti-social behaviour incidents",
    },
    Key {
        name: "basis",
        meaning: "the statutory basis or strategy that asks for it",
        values: "text",
        default: None,
        need: Need::Optional,
        example: "Crime and Disorder Act 1998 s17; Community Safety Agreement",
    },
    Key {
        name: "source",
        meaning: "where the definition comes from (a published statistic, guidance), not the lake tables",
        values: "text",
        default: None,
        need: Need::Optional,
        example: "data.police.uk street-level crime",
    },
    Key {
        name: "tables",
        meaning: "the lake tables (and views) the query reads; `safer check` compares them with the SQL",
        values: "table names, separated by commas",
        default: None,
        need: Need::Required,
        example: "police_uk_by_district",
    },
    Key {
        name: "unit",
        meaning: "what the value is",
        values: "count, percentage, rate per 1,000, rate per 10,000 or rate per 100,000",
        default: None,
        need: Need::Required,
        example: "count",
    },
    Key {
        name: "denominator",
        meaning: "for a rate, the population it is per (from the ONS mid-year estimates)",
        values: "all people, adult females (18+), females aged 16+, females, under-25s, 10-17 year olds or none",
        default: Some("none"),
        need: Need::ForRates,
        example: "none",
    },
    Key {
        name: "polarity",
        meaning: "which way is better; a monitor-only indicator gets no status colour",
        values: "higher is better, lower is better or monitor",
        default: None,
        need: Need::Required,
        example: "lower is better",
    },
    Key {
        name: "aggregate",
        meaning: "how the months add up to a quarter or a year: `sum` for events; `latest` for a snapshot such as open cases; `average` for a monthly average; `distinct` for a count of distinct things (LSOAs, people) that cannot be added, so only months are reported",
        values: "sum, ratio, average, latest or distinct",
        default: Some("sum (ratio for a percentage)"),
        need: Need::Optional,
        example: "sum",
    },
    Key {
        name: "provisional_months",
        meaning: "how many of the latest months are still being recorded (outcomes such as charges take months to record): periods that include them are marked provisional, are not rated, and the SPC chart stops before them",
        values: "a whole number from 0 to 12",
        default: Some("0"),
        need: Need::Optional,
        example: "0",
    },
    Key {
        name: "target",
        meaning: "the target for the target period",
        values: "a number (e.g. 40, or 12.5 for a percentage), a change on the same period last year (e.g. -5% vs sply), or none",
        default: Some("none"),
        need: Need::Optional,
        example: "none",
    },
    Key {
        name: "tolerance",
        meaning: "how far short of the target still counts as amber rather than red; only with a target",
        values: "a number in the indicator's unit (e.g. 2) or a percentage of the target (e.g. 5%)",
        default: None,
        need: Need::Optional,
        example: "5%",
    },
    Key {
        name: "target_period",
        meaning: "the period the target applies to",
        values: "financial year, calendar year, rolling 12 months, quarter or month",
        default: Some("the reporting year (see calendar)"),
        need: Need::Optional,
        example: "financial year",
    },
    Key {
        name: "frequency",
        meaning: "how often the figures are reported",
        values: "monthly, quarterly or annually",
        default: Some("monthly"),
        need: Need::Optional,
        example: "monthly",
    },
    Key {
        name: "calendar",
        meaning: "the reporting year",
        values: "financial year or calendar year",
        default: Some("financial year"),
        need: Need::Optional,
        example: "financial year",
    },
    Key {
        name: "disclosure",
        meaning: "who may see it: public indicators go in committee packs with small numbers suppressed; internal ones only in officers' outputs",
        values: "public or internal",
        default: Some("public"),
        need: Need::Optional,
        example: "public",
    },
    Key {
        name: "owner",
        meaning: "the team or officer who answers for the figures",
        values: "text",
        default: None,
        need: Need::Required,
        example: "Community Safety Performance Team",
    },
];

/// The key called `name`.
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// A header problem with the line it is on (1 for a missing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong, in words.
    pub message: String,
}

/// Keys renamed in this version, and what they are now.
const RENAMED: &[(&str, &str)] = &[("sources", "tables"), ("theme", "priority")];

/// Unknown and missing keys. (Values are read, and checked, by
/// `evaluation::spec::Spec`.)
pub fn problems(ind: &Indicator) -> Vec<Problem> {
    let mut out = Vec::new();
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    for (k, line) in &ind.lines {
        if key(k).is_some() {
            continue;
        }
        let message = if let Some((_, now)) = RENAMED.iter().find(|(old, _)| old == k) {
            format!("`{k}:` is now called `{now}:`")
        } else {
            match crate::explore::closest(k, &names) {
                Some(c) => format!("unknown header key `{k}`: did you mean `{c}`?"),
                None => format!(
                    "unknown header key `{k}`; the keys are {}",
                    names.join(", ")
                ),
            }
        };
        out.push(Problem {
            line: *line,
            message,
        });
    }
    let is_rate = ind
        .meta
        .get("unit")
        .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("rate"));
    for k in KEYS {
        let needed = match k.need {
            Need::Required => true,
            Need::ForRates => is_rate,
            Need::Optional => false,
        };
        if needed && !ind.meta.contains_key(k.name) {
            let hint = if k.name == "id" {
                let stem = ind
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!(" (for this file, usually `-- id: {stem}`)")
            } else {
                format!(" ({}: {})", k.meaning, k.values)
            };
            out.push(Problem {
                line: 1,
                message: format!("the header needs `-- {}: ...`{hint}", k.name),
            });
        }
    }
    if let Some(id) = ind.meta.get("id")
        && !crate::config::is_identifier(id)
    {
        out.push(Problem {
            line: ind.lines.get("id").copied().unwrap_or(1),
            message: format!("id `{id}` must be lower-case letters, digits and _"),
        });
    }
    out.sort_by_key(|p| p.line);
    out
}

/// The header key table as markdown, for the guide and `safer docs`.
pub fn markdown_table() -> String {
    let mut s =
        String::from("| key | needed | meaning | values | default |\n|---|---|---|---|---|\n");
    for k in KEYS {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.name,
            match k.need {
                Need::Required => "always",
                Need::ForRates => "for rates",
                Need::Optional => "no",
            },
            k.meaning,
            k.values,
            k.default.unwrap_or("-")
        ));
    }
    s
}
