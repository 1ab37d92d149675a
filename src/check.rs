//! `safer check`: everything a nightly run would trip over, found before it
//! runs, all at once, each naming its file, line and column.
//!
//! It reads the project file, every indicator header, plans every query
//! against the lake as it is (result columns and their types, the tables it
//! reads against its `tables:` header), the shared views, every output
//! definition (themes, indicators, areas, periods and template cells that
//! must match something), commentary files, schedules, and the project
//! file's paths, environment variables and limits. Sources are not
//! contacted. Errors fail the check; warnings are worth knowing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::LogicalPlan;
use serde::Serialize;

use crate::config::{Config, Source};
use crate::engine::Engine;
use crate::geography::Crosswalk;
use crate::indicators::{self, Indicator};
use crate::lake::Lake;
use crate::pipeline::{self, Error};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The run would fail, or publish something wrong.
    Error,
    /// Worth knowing; the run is not affected.
    Warning,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is about, if any.
    pub file: Option<PathBuf>,
    /// 1-based line, if known.
    pub line: Option<u64>,
    /// 1-based column, if known.
    pub column: Option<u64>,
    /// What is wrong, in words.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if let Some(p) = &self.file {
            write!(f, "{}", p.display())?;
            if let Some(l) = self.line {
                write!(f, ":{l}")?;
                if let Some(c) = self.column {
                    write!(f, ":{c}")?;
                }
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

fn err(file: Option<&Path>, line: Option<u64>, column: Option<u64>, message: String) -> Finding {
    Finding {
        severity: Severity::Error,
        file: file.map(Path::to_path_buf),
        line,
        column,
        message,
    }
}

fn warn(file: Option<&Path>, line: Option<u64>, message: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        file: file.map(Path::to_path_buf),
        line,
        column: None,
        message,
    }
}

/// What the check found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Indicators checked.
    pub indicators: usize,
    /// Every finding, errors first, then by file and line.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Errors only.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// The first line and column of `needle` (a whole word) in `sql`, after
/// the header.
fn locate(sql: &str, needle: &str) -> Option<(u64, u64)> {
    for (i, line) in sql.lines().enumerate() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        let mut from = 0;
        while let Some(p) = lower[from..].find(&needle.to_ascii_lowercase()) {
            let at = from + p;
            let before = lower[..at].chars().last();
            let after = lower[at + needle.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if !word(before) && !word(after) {
                return Some((i as u64 + 1, at as u64 + 1));
            }
            from = at + needle.len();
        }
    }
    None
}

/// Every lake table or view a plan reads. Registered tables are views over
/// their files, so they show as a sub-query alias with the table's name;
/// user aliases (`FROM police_uk_street s`) are looked through.
fn tables_read(plan: &LogicalPlan, registered: &[String], out: &mut BTreeSet<String>) {
    match plan {
        LogicalPlan::SubqueryAlias(a) if registered.iter().any(|t| t == a.alias.table()) => {
            out.insert(a.alias.table().to_string());
            return;
        }
        LogicalPlan::TableScan(scan) if registered.iter().any(|t| t == scan.table_name.table()) => {
            out.insert(scan.table_name.table().to_string());
            return;
        }
        _ => {}
    }
    for input in plan.inputs() {
        tables_read(input, registered, out);
    }
    // Sub-queries in expressions.
    let _ = plan.apply_subqueries(|sub| {
        tables_read(sub, registered, out);
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
}

fn type_words(t: &DataType) -> &'static str {
    crate::explore::arrow_words(t)
}

/// Check the whole project.
pub async fn check(cfg: &Config) -> Result<Report, Error> {
    let mut f: Vec<Finding> = Vec::new();
    project_file(cfg, &mut f);
    let lake = Lake::open(cfg.lake_dir())?;
    let lake_empty = lake.datasets()?.is_empty();
    let engine = Engine::open(&lake, pipeline::engine_limits(cfg)).await?;
    for v in engine.view_problems() {
        f.push(err(
            Some(&v.path),
            v.location.map(|l| l.0),
            v.location.map(|l| l.1),
            v.message.clone(),
        ));
    }
    if lake_empty {
        f.push(err(
            None,
            None,
            None,
            format!(
                "the lake ({}) is empty, so no query can be checked against it: run `safer ingest` to land the sources in safer.toml first (or `safer demo` for a demo project)",
                cfg.lake_dir().display()
            ),
        ));
    }
    let queries = cfg.resolve(&cfg.paths.queries);
    let (catalogue, load_problems) = pipeline::catalogue(cfg, &[]);
    for p in load_problems {
        f.push(err(None, None, None, p));
    }
    if catalogue.is_empty() {
        f.push(err(
            Some(&queries),
            None,
            None,
            "there are no indicator files (`*.sql`) here; `safer new <theme>/<id>` makes one"
                .into(),
        ));
    }
    for ind in &catalogue {
        indicator(&engine, ind, lake_empty, &mut f).await;
    }
    outputs(cfg, &catalogue, &mut f);
    commentary(cfg, &catalogue, &mut f);
    if let Err(errs) = crate::scheduler::schedule::load_dir(&cfg.resolve(&cfg.paths.schedules)) {
        for e in errs {
            f.push(err(Some(&e.path), None, None, e.message));
        }
    }
    f.sort_by(|a, b| {
        (a.severity, &a.file, a.line, a.column).cmp(&(b.severity, &b.file, b.line, b.column))
    });
    Ok(Report {
        indicators: catalogue.len(),
        findings: f,
    })
}

async fn indicator(engine: &Engine, ind: &Indicator, lake_empty: bool, f: &mut Vec<Finding>) {
    let path = Some(ind.path.as_path());
    let is_rate = ind.unit.trim().to_ascii_lowercase().starts_with("rate");
    if let Err(problems) = indicators::check_header(ind) {
        for p in problems {
            f.push(err(path, Some(p.line as u64), None, p.message));
        }
    }
    if lake_empty {
        return;
    }
    let df = match engine.plan(&ind.sql).await {
        Ok(df) => df,
        Err(e) => {
            let (line, col) = e.location().unzip();
            f.push(err(path, line, col, e.to_string()));
            return;
        }
    };
    // Result columns and their types.
    let schema = df.schema().clone();
    let names: Vec<&str> = schema.fields().iter().map(|x| x.name().as_str()).collect();
    let missing: Vec<&str> = ["month", "area_code", "numerator"]
        .into_iter()
        .filter(|c| !names.contains(c))
        .collect();
    if !missing.is_empty() {
        f.push(err(
            path,
            None,
            None,
            format!(
                "the query must return month, area_code and numerator (and denominator for a percentage); it is missing {} (it returns {})",
                missing.join(", "),
                names.join(", ")
            ),
        ));
    }
    let unit_is_pct = ind.unit.trim().eq_ignore_ascii_case("percentage");
    for field in schema.fields() {
        let t = field.data_type();
        let want: Option<(&str, bool)> = match field.name().as_str() {
            "month" => Some((
                "a date (the first day of the month)",
                matches!(
                    t,
                    DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
                ),
            )),
            "area_code" => Some((
                "text (a district, partnership or county code)",
                crate::schema::is_text(t),
            )),
            "numerator" | "denominator" => Some(("a number", t.is_numeric())),
            _ => None,
        };
        if let Some((words, ok)) = want
            && !ok
        {
            let (line, col) = locate(&ind.sql, field.name()).unzip();
            f.push(err(
                path,
                line,
                col,
                format!(
                    "`{}` must be {words}, but here it is {}",
                    field.name(),
                    type_words(t)
                ),
            ));
        }
    }
    if unit_is_pct && !names.contains(&"denominator") {
        f.push(err(
            path,
            ind.lines.get("unit").map(|l| *l as u64),
            None,
            "a percentage needs a `denominator` column (what the numerator is a share of)".into(),
        ));
    }
    // The tables it reads against its header.
    let mut read = BTreeSet::new();
    tables_read(df.logical_plan(), engine.tables(), &mut read);
    let declared: BTreeSet<String> = ind
        .meta
        .get("tables")
        .map(|t| {
            t.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ind.meta.contains_key("tables") {
        let mut extra: Vec<&String> = declared.difference(&read).collect();
        // A rate's population comes from ons_population in the evaluation.
        extra.retain(|t| !(is_rate && t.as_str() == crate::sources::ons::TABLE));
        let unlisted: Vec<&String> = read.difference(&declared).collect();
        let line = ind.lines.get("tables").map(|l| *l as u64);
        if !unlisted.is_empty() {
            f.push(err(
                path,
                line,
                None,
                format!(
                    "the query reads {} but `tables:` does not list {}",
                    list(&read),
                    list(&unlisted)
                ),
            ));
        }
        if !extra.is_empty() {
            f.push(err(
                path,
                line,
                None,
                format!(
                    "`tables:` lists {}, which the query does not read{}",
                    list(&extra),
                    if is_rate {
                        ""
                    } else {
                        " (ons_population belongs here only for a rate)"
                    }
                ),
            ));
        }
        if is_rate && !declared.contains(crate::sources::ons::TABLE) {
            f.push(warn(
                path,
                line,
                "a rate is worked out with the ONS population estimates: add ons_population to `tables:`".into(),
            ));
        }
    }
    // A literal area code must be a known area.
    let known: BTreeSet<String> = Crosswalk::all_areas().into_iter().map(|a| a.code).collect();
    for (i, line) in ind.sql.lines().enumerate() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(p) = lower.find("as area_code") {
            let before = line[..p].trim_end();
            if let Some(code) = before
                .strip_suffix('\'')
                .and_then(|b| b.rsplit_once('\'').map(|(_, c)| c))
                && !known.contains(code)
            {
                f.push(err(
                    path,
                    Some(i as u64 + 1),
                    Some(before.len() as u64 - code.len() as u64),
                    format!(
                        "`'{code}'` is not an area code safer knows, so none of its figures would be shown; use a district code (E07...), a partnership code (csp-...), E10000017 for Lancashire-12 or E23000003 for pan-Lancashire"
                    ),
                ));
            }
        }
    }
}

fn list<T: AsRef<str>>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter()
        .map(|x| format!("`{}`", x.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn project_file(cfg: &Config, f: &mut Vec<Finding>) {
    let file = cfg.base_dir.join(crate::config::CONFIG_FILE);
    let file = Some(file.as_path());
    let queries = cfg.resolve(&cfg.paths.queries);
    if !queries.is_dir() {
        f.push(err(
            file,
            None,
            None,
            format!(
                "paths.queries is {}, which does not exist; nothing would be measured",
                queries.display()
            ),
        ));
    }
    for s in &cfg.sources {
        let path = match s {
            Source::PoliceUk(x) | Source::Stats19(x) | Source::OnsPopulation(x) => Some(&x.path),
            Source::Csv(x) => Some(&x.path),
            Source::Sql(_) => None,
        };
        if let Some(p) = path {
            let full = cfg.resolve(p);
            if !full.exists() {
                f.push(err(
                    file,
                    None,
                    None,
                    format!("source `{}`: {} does not exist", s.name(), full.display()),
                ));
            }
        }
        if let Source::Sql(x) = s
            && let Some(var) = &x.url_env
            && std::env::var(var).is_err()
        {
            f.push(err(
                file,
                None,
                None,
                format!(
                    "source `{}`: the environment variable `{var}` (url_env) is not set, so the source cannot connect",
                    s.name()
                ),
            ));
        }
    }
    // Source tests must name columns their table has.
    let declared = crate::testing::declared_tables(Some(cfg));
    for s in &cfg.sources {
        let tables = s.tables();
        for t in s.tests() {
            let table = t.table_in(&tables);
            let Some(cols) = declared.get(&table) else {
                continue;
            };
            let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
            for c in t.column.iter().chain(t.columns.iter()) {
                if !names.contains(&c.as_str()) {
                    let hint = crate::explore::closest(c, &names)
                        .map(|x| format!("; did you mean `{x}`?"))
                        .unwrap_or_default();
                    f.push(err(
                        file,
                        None,
                        None,
                        format!(
                            "source `{}`: test {} names column `{c}`, which `{table}` does not have{hint}",
                            s.name(),
                            t.label()
                        ),
                    ));
                }
            }
            if let Some((lt, lc)) = t.to.as_deref().and_then(|x| x.split_once('.'))
                && let Some(lcols) = declared.get(lt)
                && !lcols.iter().any(|c| c.name == lc)
            {
                f.push(err(
                    file,
                    None,
                    None,
                    format!(
                        "source `{}`: test {} looks up `{lt}.{lc}`, but `{lt}` has no column `{lc}`",
                        s.name(),
                        t.label()
                    ),
                ));
            } else if let Some((lt, _)) = t.to.as_deref().and_then(|x| x.split_once('.'))
                && !declared.contains_key(lt)
            {
                f.push(err(
                    file,
                    None,
                    None,
                    format!(
                        "source `{}`: test {} looks up table `{lt}`, which no source lands",
                        s.name(),
                        t.label()
                    ),
                ));
            }
        }
    }
    let l = &cfg.limits;
    let mut limit = |ok: bool, text: String| {
        if !ok {
            f.push(err(file, None, None, text));
        }
    };
    limit(
        (64..=65_536).contains(&l.query_memory_mib),
        format!(
            "limits.query_memory_mib = {}: use 64 to 65536",
            l.query_memory_mib
        ),
    );
    limit(
        (1..=3_600).contains(&l.query_timeout_secs),
        format!(
            "limits.query_timeout_secs = {}: use 1 to 3600",
            l.query_timeout_secs
        ),
    );
    limit(
        (1..=600).contains(&l.connect_timeout_secs),
        format!(
            "limits.connect_timeout_secs = {}: use 1 to 600",
            l.connect_timeout_secs
        ),
    );
    limit(
        (1..=86_400).contains(&l.source_timeout_secs),
        format!(
            "limits.source_timeout_secs = {}: use 1 to 86400",
            l.source_timeout_secs
        ),
    );
    if let Some(var) = &cfg.ledger.url_env
        && std::env::var(var).is_err()
    {
        f.push(err(
            file,
            None,
            None,
            format!("ledger.url_env names `{var}`, which is not set"),
        ));
    }
    for var in cfg
        .alerts
        .webhook_url_env
        .iter()
        .chain(cfg.alerts.email.as_ref().map(|e| &e.smtp_url_env))
    {
        if std::env::var(var).is_err() {
            f.push(warn(
                file,
                None,
                format!("alerts name `{var}`, which is not set: that alert would not be delivered"),
            ));
        }
    }
}

fn outputs(cfg: &Config, catalogue: &[Indicator], f: &mut Vec<Finding>) {
    let dir = cfg.resolve(&cfg.paths.outputs);
    let defs = match crate::outputs::load_definitions(&dir) {
        Ok(d) => d,
        Err(e) => {
            f.push(err(None, None, None, e.to_string()));
            return;
        }
    };
    let areas = Crosswalk::all_areas();
    let themes: BTreeSet<&str> = catalogue.iter().map(|i| i.theme.as_str()).collect();
    let ids: Vec<&str> = catalogue.iter().map(|i| i.id.as_str()).collect();
    for d in &defs {
        let file = dir.join(format!("{}.toml", d.name));
        let file = Some(file.as_path());
        for t in &d.themes {
            if !themes.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                let names: Vec<&str> = themes.iter().copied().collect();
                let hint = crate::explore::closest(t, &names)
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| format!("the priorities are {}", names.join(", ")));
                f.push(err(
                    file,
                    None,
                    None,
                    format!("theme `{t}` matches no indicator's priority; {hint}"),
                ));
            }
        }
        for i in &d.indicators {
            if !ids.contains(&i.as_str()) {
                f.push(err(file, None, None, unknown_id(i, &ids)));
            }
        }
        if d.audience == crate::outputs::Audience::Public {
            let named: BTreeSet<&str> = d
                .indicators
                .iter()
                .map(String::as_str)
                .chain(d.cells.iter().map(|c| c.indicator.as_str()))
                .collect();
            for ind in catalogue
                .iter()
                .filter(|i| named.contains(i.id.as_str()) && crate::outputs::is_internal(i))
            {
                f.push(err(
                    file,
                    None,
                    None,
                    format!(
                        "this output is public but names `{}`, whose disclosure is internal: it is left out of the output (make the output internal, or the indicator public if it may be published)",
                        ind.id
                    ),
                ));
            }
        }
        if !catalogue.iter().any(|i| d.includes(&i.id, &i.theme)) && !catalogue.is_empty() {
            f.push(err(
                file,
                None,
                None,
                "this output would contain no indicators (check `themes` and `indicators`)".into(),
            ));
        }
        if let Some(a) = &d.headline_area
            && !areas.iter().any(|x| &x.code == a)
        {
            f.push(err(file, None, None, unknown_area(a)));
        }
        for a in &d.comparators {
            if !areas.iter().any(|x| &x.code == a) {
                f.push(err(
                    file,
                    None,
                    None,
                    format!("comparators: {}", unknown_area(a)),
                ));
            }
        }
        for c in &d.cells {
            let at = format!("cell {}!{}", c.sheet, c.cell);
            if !ids.contains(&c.indicator.as_str()) {
                f.push(err(
                    file,
                    None,
                    None,
                    format!("{at}: {}", unknown_id(&c.indicator, &ids)),
                ));
            }
            if let Some(a) = &c.area
                && !areas.iter().any(|x| &x.code == a)
            {
                f.push(err(file, None, None, format!("{at}: {}", unknown_area(a))));
            }
            if let Some(p) = &c.period
                && !crate::evaluation::periods::PeriodType::ALL
                    .iter()
                    .any(|t| t.name() == p)
            {
                let names: Vec<&str> = crate::evaluation::periods::PeriodType::ALL
                    .iter()
                    .map(|t| t.name())
                    .collect();
                f.push(err(
                    file,
                    None,
                    None,
                    format!("{at}: period `{p}` is not one of {}", names.join(", ")),
                ));
            }
            if let Some(t) = &c.subset_of
                && !d.cells.iter().any(|x| x.sheet == c.sheet && &x.cell == t)
            {
                f.push(err(
                    file,
                    None,
                    None,
                    format!("{at}: subset_of `{t}` is not a cell on sheet {}", c.sheet),
                ));
            }
            if !is_cell_ref(&c.cell) {
                f.push(err(
                    file,
                    None,
                    None,
                    format!("{at}: `{}` is not a cell reference like B6", c.cell),
                ));
            }
        }
    }
}

fn unknown_id(id: &str, ids: &[&str]) -> String {
    match crate::explore::closest(id, ids) {
        Some(c) => format!("indicator `{id}` does not exist; did you mean `{c}`?"),
        None => format!("indicator `{id}` does not exist"),
    }
}

fn unknown_area(a: &str) -> String {
    format!(
        "area `{a}` is not a district, partnership or county code safer knows (Lancashire-12 is E10000017, pan-Lancashire E23000003)"
    )
}

fn is_cell_ref(c: &str) -> bool {
    let letters = c.chars().take_while(|x| x.is_ascii_uppercase()).count();
    let rest = &c[letters..];
    (1..=3).contains(&letters)
        && !rest.is_empty()
        && rest.chars().all(|x| x.is_ascii_digit())
        && !rest.starts_with('0')
}

fn commentary(cfg: &Config, catalogue: &[Indicator], f: &mut Vec<Finding>) {
    let dir = cfg.resolve(Path::new("commentary"));
    let Ok(months) = std::fs::read_dir(&dir) else {
        return;
    };
    let ids: Vec<&str> = catalogue.iter().map(|i| i.id.as_str()).collect();
    for m in months.flatten().filter(|m| m.path().is_dir()) {
        for e in std::fs::read_dir(m.path()).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "md") {
                let id = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !ids.contains(&id.as_str()) {
                    f.push(warn(
                        Some(&p),
                        None,
                        format!(
                            "commentary for `{id}`, which is no indicator's id, so it is never shown{}",
                            crate::explore::closest(&id, &ids)
                                .map(|c| format!(" (did you mean `{c}`?)"))
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_and_word_positions() {
        assert!(is_cell_ref("B6"));
        assert!(is_cell_ref("AA10"));
        assert!(!is_cell_ref("b6"));
        assert!(!is_cell_ref("B0"));
        assert!(!is_cell_ref("6B"));
        let sql = "-- id: x\nSELECT month,\n       n AS numerator\n";
        assert_eq!(locate(sql, "numerator"), Some((3, 13)));
        assert_eq!(locate(sql, "umerator"), None, "whole words only");
    }
}
