//! What changed between two runs' figures, and why: `safer diff RUN_A RUN_B`
//! and the restatement notes in the pack.
//!
//! Each run lands its evaluated figures in `indicator_results` and records
//! the Delta version of every table it read. Comparing two runs is then
//! exact: the figures come from the results table (as it was just after
//! each run landed them, by time travel if they have since been trimmed),
//! and the reasons come from the tables' logs between the two versions:
//! input units that are new (new data), re-delivered with other contents or
//! updated at the source (revised data), the indicator's SQL hash (changed
//! SQL) and the population year (new estimates).

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::array::{Array, BooleanArray, Float64Array, Int64Array, StringArray};
use serde::Serialize;

use crate::config::Config;
use crate::engine::Engine;
use crate::evaluation::periods::PeriodType;
use crate::evaluation::{ResultRow, results};
use crate::lake::{At, Lake, Manifest, Pin};
use crate::ledger::{Ledger, RunRecord};

/// Why a figure moved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reason {
    /// A table it reads gained input units (a new month, a new pull).
    NewData {
        /// The tables.
        tables: Vec<String>,
    },
    /// A table it reads had input units re-delivered with other contents,
    /// rows updated at the source, or units withdrawn.
    RevisedData {
        /// The tables.
        tables: Vec<String>,
    },
    /// The indicator's SQL changed.
    ChangedSql,
    /// The rate's population estimate changed (new mid-year estimates).
    NewPopulation {
        /// Estimate year before.
        from: Option<i64>,
        /// Estimate year after.
        to: Option<i64>,
    },
    /// None of the above: the evaluation settings (targets, suppression)
    /// or an unrecorded change.
    Other,
}

impl Reason {
    /// The reason in words.
    pub fn words(&self) -> String {
        match self {
            Reason::NewData { tables } => format!("new data in {}", tables.join(", ")),
            Reason::RevisedData { tables } => format!("revised data in {}", tables.join(", ")),
            Reason::ChangedSql => "the indicator's SQL changed".into(),
            Reason::NewPopulation { from, to } => format!(
                "population estimates changed ({} to {})",
                from.map_or("none".into(), |y| format!("mid-{y}")),
                to.map_or("none".into(), |y| format!("mid-{y}"))
            ),
            Reason::Other => {
                "no data or SQL change recorded (evaluation settings such as targets)".into()
            }
        }
    }
}

/// One figure that moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Indicator.
    pub indicator_id: String,
    /// Area code.
    pub area_code: String,
    /// Area name.
    pub area_name: String,
    /// Period type.
    pub period_type: PeriodType,
    /// Period label.
    pub period_label: String,
    /// The earlier run's value (`None`: not there, or suppressed).
    pub before: Option<f64>,
    /// The later run's value.
    pub after: Option<f64>,
    /// Whether either value is suppressed in public outputs.
    pub suppressed: bool,
    /// Why, as far as the logs tell.
    pub reasons: Vec<Reason>,
}

/// Two runs compared.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// The earlier run.
    pub run_a: String,
    /// The later run.
    pub run_b: String,
    /// Figures present in both runs whose value changed.
    pub changed: Vec<Change>,
    /// Figures present in both with the same value.
    pub unchanged: usize,
    /// Figures only the later run has (a new period).
    pub added: usize,
    /// Figures only the earlier run has.
    pub removed: usize,
    /// How each table read changed between the runs: table -> reason.
    pub tables: BTreeMap<String, Reason>,
    /// Said before the figures: a run that reports another run's figures.
    pub notes: Vec<String>,
}

/// One figure of one run.
#[derive(Debug, Clone)]
struct Figure {
    area_name: String,
    value: Option<f64>,
    sql_hash: String,
    population_year: Option<i64>,
    suppressed: bool,
    /// A complete period, not provisional: a figure given as final.
    settled: bool,
}

type FigureKey = (String, String, PeriodType, String);

/// Compare two runs from the ledger.
pub async fn between(
    cfg: &Config,
    ledger: &Ledger,
    run_a: &str,
    run_b: &str,
    only: Option<&str>,
) -> Result<Diff, String> {
    let get = |id: &str| {
        let id = id.to_string();
        async move {
            ledger
                .get(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no run `{id}` in the ledger; `safer runs` lists them"))
        }
    };
    let a = get(run_a).await?;
    let b = get(run_b).await?;
    // A run that found nothing changed reports the figures of the run it
    // names, and landed none of its own: compare those.
    let computed = |r: &RunRecord| {
        let from = r.figures_from.clone();
        let r = r.clone();
        async move {
            match from {
                Some(f) => get(&f).await,
                None => Ok(r),
            }
        }
    };
    let lake = Lake::open(cfg.lake_dir()).map_err(|e| e.to_string())?;
    let fa = figures(cfg, &lake, &computed(&a).await?, only).await?;
    let fb = figures(cfg, &lake, &computed(&b).await?, only).await?;
    let tables = table_changes(&lake, &a, &b)?;
    let reads = tables_read(cfg);
    let mut d = compare(&a.run_id, &b.run_id, &fa, &fb, &tables, &reads);
    for r in [&a, &b] {
        if let Some(from) = &r.figures_from {
            d.notes.push(format!(
                "Run {} computed no figures of its own: nothing its indicators read had changed since run {from}, so it reports that run's figures, and they are what is compared here.",
                r.run_id
            ));
        }
    }
    Ok(d)
}

/// Compare two runs' figures (pure: the tests drive it directly).
fn compare(
    run_a: &str,
    run_b: &str,
    fa: &BTreeMap<FigureKey, Figure>,
    fb: &BTreeMap<FigureKey, Figure>,
    tables: &BTreeMap<String, Reason>,
    reads: &BTreeMap<String, BTreeSet<String>>,
) -> Diff {
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for (k, after) in fb {
        let Some(before) = fa.get(k) else { continue };
        let same = match (before.value, after.value) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            (None, None) => true,
            _ => false,
        };
        if same {
            unchanged += 1;
            continue;
        }
        let mut reasons = Vec::new();
        if let Some(read) = reads.get(&k.0) {
            let mut new = Vec::new();
            let mut revised = Vec::new();
            for t in read {
                match tables.get(t) {
                    Some(Reason::NewData { .. }) => new.push(t.clone()),
                    Some(Reason::RevisedData { .. }) => revised.push(t.clone()),
                    _ => {}
                }
            }
            if !new.is_empty() {
                reasons.push(Reason::NewData { tables: new });
            }
            if !revised.is_empty() {
                reasons.push(Reason::RevisedData { tables: revised });
            }
        }
        if before.sql_hash != after.sql_hash {
            reasons.push(Reason::ChangedSql);
        }
        if before.population_year != after.population_year {
            reasons.push(Reason::NewPopulation {
                from: before.population_year,
                to: after.population_year,
            });
        }
        if reasons.is_empty() {
            reasons.push(Reason::Other);
        }
        changed.push(Change {
            indicator_id: k.0.clone(),
            area_code: k.1.clone(),
            area_name: after.area_name.clone(),
            period_type: k.2,
            period_label: k.3.clone(),
            before: before.value,
            after: after.value,
            suppressed: before.suppressed || after.suppressed,
            reasons,
        });
    }
    Diff {
        run_a: run_a.to_string(),
        run_b: run_b.to_string(),
        added: fb.keys().filter(|k| !fa.contains_key(*k)).count(),
        removed: fa.keys().filter(|k| !fb.contains_key(*k)).count(),
        changed,
        unchanged,
        tables: tables.clone(),
        notes: Vec::new(),
    }
}

/// The version of `indicator_results` that holds a run's figures: the
/// newest if it still keeps the run, else the version the run itself
/// committed (the one after the version it read: the lake is locked for
/// the whole run, so nothing else wrote in between).
fn results_version(lake: &Lake, run: &RunRecord) -> Result<Option<u64>, String> {
    let unit = format!("run-{}", run.run_id);
    let latest = lake.latest(results::TABLE).map_err(|e| e.to_string())?;
    if let Some(m) = &latest
        && m.inputs.contains_key(&unit)
    {
        return Ok(m.version);
    }
    let candidate = run.lake_versions.get(results::TABLE).map_or(0, |v| v + 1);
    match lake.manifest_at(results::TABLE, At::Version(candidate)) {
        Ok(Some(m)) if m.inputs.contains_key(&unit) => Ok(m.version),
        _ => Ok(None),
    }
}

/// Every figure a run landed, keyed by indicator, area, period type and
/// period label.
async fn figures(
    cfg: &Config,
    lake: &Lake,
    run: &RunRecord,
    only: Option<&str>,
) -> Result<BTreeMap<FigureKey, Figure>, String> {
    let Some(version) = results_version(lake, run)? else {
        return Err(format!(
            "the figures of run `{}` are no longer in the lake (the results table keeps the newest {} runs, and older versions go when the lake is vacuumed)",
            run.run_id,
            results::KEEP_RUNS
        ));
    };
    figures_at(cfg, lake, &run.run_id, version, only).await
}

/// A run's figures from one version of the results table.
async fn figures_at(
    cfg: &Config,
    lake: &Lake,
    run_id: &str,
    version: u64,
    only: Option<&str>,
) -> Result<BTreeMap<FigureKey, Figure>, String> {
    let pinned = lake.clone().pinned(Pin::Versions(BTreeMap::from([(
        results::TABLE.to_string(),
        version,
    )])));
    let limits = crate::pipeline::engine_limits(cfg).in_process();
    let engine = Engine::open(&pinned, limits)
        .await
        .map_err(|e| e.to_string())?;
    let quote = |s: &str| s.replace('\'', "''");
    let mut sql = format!(
        "SELECT indicator_id, area_code, area_name, period_type, period_label, value, sql_hash, population_year, suppressed, \
         complete AND NOT provisional AS settled \
         FROM {} WHERE run_id = '{}'",
        results::TABLE,
        quote(run_id)
    );
    if let Some(id) = only {
        sql.push_str(&format!(" AND indicator_id = '{}'", quote(id)));
    }
    let (_, batches) = engine.query(&sql).await.map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for b in batches {
        let s = |i: usize| b.column(i).as_any().downcast_ref::<StringArray>();
        let (Some(ind), Some(code), Some(name), Some(pt), Some(pl), Some(hash)) =
            (s(0), s(1), s(2), s(3), s(4), s(6))
        else {
            return Err("the results table has unexpected column types".into());
        };
        let value = b.column(5).as_any().downcast_ref::<Float64Array>();
        let year = b.column(7).as_any().downcast_ref::<Int64Array>();
        let supp = b.column(8).as_any().downcast_ref::<BooleanArray>();
        let settled = b.column(9).as_any().downcast_ref::<BooleanArray>();
        for i in 0..b.num_rows() {
            let Some(period_type) = PeriodType::from_name(pt.value(i)) else {
                continue;
            };
            out.insert(
                (
                    ind.value(i).to_string(),
                    code.value(i).to_string(),
                    period_type,
                    pl.value(i).to_string(),
                ),
                Figure {
                    area_name: name.value(i).to_string(),
                    value: value.filter(|v| !v.is_null(i)).map(|v| v.value(i)),
                    sql_hash: hash.value(i).to_string(),
                    population_year: year.filter(|y| !y.is_null(i)).map(|y| y.value(i)),
                    suppressed: supp.is_some_and(|s| !s.is_null(i) && s.value(i)),
                    settled: settled.is_some_and(|s| !s.is_null(i) && s.value(i)),
                },
            );
        }
    }
    Ok(out)
}

/// Figures this run is about to publish that an earlier run already
/// published for a complete period, and that have since moved: what the
/// pack's restatement note lists. The earlier run is the newest whose
/// figures the results table holds; the reasons come from each table as it
/// was when that run landed its figures against the versions this run read.
/// Suppressed and provisional figures are never compared (a note must not
/// reveal a hidden number).
pub async fn restatements(
    cfg: &Config,
    lake: &Lake,
    current: &[ResultRow],
    run_id: &str,
    versions: &BTreeMap<String, u64>,
) -> Result<Vec<Change>, String> {
    let Some(m) = lake.latest(results::TABLE).map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    let Some((prev_unit, prev)) = results::newest_run(&m, Some(run_id)) else {
        return Ok(Vec::new());
    };
    let prev_run = prev_unit.trim_start_matches("run-").to_string();
    let Some(version) = m.version else {
        return Ok(Vec::new());
    };
    let mut before = figures_at(cfg, lake, &prev_run, version, None).await?;
    before.retain(|_, f| f.settled);
    let mut after = BTreeMap::new();
    for r in current.iter().filter(|r| r.complete && !r.provisional) {
        after.insert(
            (
                r.indicator_id.clone(),
                r.area_code.clone(),
                r.period_type,
                r.period_label.clone(),
            ),
            Figure {
                area_name: r.area_name.clone(),
                value: r.value,
                sql_hash: r.sql_hash.clone(),
                population_year: r.population_year.map(i64::from),
                suppressed: r.suppressed,
                settled: true,
            },
        );
    }
    // What each table was for the previous run: the versions it recorded,
    // else (results landed before they were recorded) as it was when it
    // landed its figures.
    let when = chrono::DateTime::parse_from_rfc3339(&prev.landed_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("results unit {prev_unit}: landed_at: {e}"))?;
    let mut tables = BTreeMap::new();
    for (table, v) in versions {
        if table == results::TABLE {
            continue;
        }
        let then = match prev.table_versions.get(table) {
            Some(pv) => lake.manifest_at(table, At::Version(*pv)),
            None if !prev.table_versions.is_empty() => Ok(None),
            None => lake.manifest_at(table, At::Timestamp(when)),
        }
        .map_err(|e| e.to_string())?;
        if then.as_ref().and_then(|m| m.version) == Some(*v) {
            continue;
        }
        let now = lake
            .manifest_at(table, At::Version(*v))
            .map_err(|e| e.to_string())?;
        if let Some(reason) = unit_changes(table, then.as_ref(), now.as_ref()) {
            tables.insert(table.clone(), reason);
        }
    }
    let reads = tables_read(cfg);
    let d = compare(&prev_run, run_id, &before, &after, &tables, &reads);
    Ok(d.changed
        .into_iter()
        .filter(|c| !c.suppressed && c.before.is_some() && c.after.is_some())
        .collect())
}

/// How each table both runs could read changed between them.
fn table_changes(
    lake: &Lake,
    a: &RunRecord,
    b: &RunRecord,
) -> Result<BTreeMap<String, Reason>, String> {
    let mut out = BTreeMap::new();
    for (table, vb) in &b.lake_versions {
        if table == results::TABLE {
            continue;
        }
        let va = a.lake_versions.get(table);
        if va == Some(vb) {
            continue;
        }
        let read = |v: u64| -> Result<Option<Manifest>, String> {
            lake.manifest_at(table, At::Version(v))
                .map_err(|e| format!("`{table}` version {v}: {e}"))
        };
        let before = match va {
            Some(v) => read(*v)?,
            None => None,
        };
        let after = read(*vb)?;
        if let Some(reason) = unit_changes(table, before.as_ref(), after.as_ref()) {
            out.insert(table.clone(), reason);
        }
    }
    Ok(out)
}

/// New units make new data; re-landed, updated or withdrawn units make
/// revised data (revised wins: a restatement is what members must hear).
fn unit_changes(
    table: &str,
    before: Option<&Manifest>,
    after: Option<&Manifest>,
) -> Option<Reason> {
    let empty = BTreeMap::new();
    let bi = before.map_or(&empty, |m| &m.inputs);
    let ai = after.map_or(&empty, |m| &m.inputs);
    let mut new = false;
    let mut revised = false;
    for (unit, entry) in ai {
        match bi.get(unit) {
            None => {
                new = true;
                if entry.rows_superseded > 0 {
                    revised = true;
                }
            }
            Some(old)
                if old.fingerprint != entry.fingerprint || old.landed_at != entry.landed_at =>
            {
                revised = true
            }
            Some(_) => {}
        }
    }
    // A unit gone is revised data, except the results table's own
    // trimming of old runs and a table that was rebuilt whole.
    if bi.keys().any(|u| !ai.contains_key(u)) {
        revised = true;
    }
    let tables = vec![table.to_string()];
    if revised {
        Some(Reason::RevisedData { tables })
    } else if new {
        Some(Reason::NewData { tables })
    } else {
        None
    }
}

/// The lake tables each indicator reads: its declared tables, with each
/// shared view replaced by the tables its header declares.
fn tables_read(cfg: &Config) -> BTreeMap<String, BTreeSet<String>> {
    let (catalogue, _) = crate::pipeline::catalogue(cfg, &[]);
    let views = crate::pipeline::view_tables(cfg);
    let mut out = BTreeMap::new();
    for ind in catalogue {
        let mut set = BTreeSet::new();
        for t in ind
            .meta
            .get("tables")
            .into_iter()
            .flat_map(|t| t.split(','))
        {
            let t = t.trim();
            match views.get(t) {
                Some(under) => set.extend(under.iter().cloned()),
                None => {
                    set.insert(t.to_string());
                }
            }
        }
        out.insert(ind.id.clone(), set);
    }
    out
}

/// The diff in words, for the terminal.
pub fn render(d: &Diff) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Run {} -> run {}", d.run_a, d.run_b);
    for n in &d.notes {
        let _ = writeln!(s, "{n}");
    }
    if d.tables.is_empty() {
        let _ = writeln!(s, "No lake table changed between the two runs.");
    }
    for (t, r) in &d.tables {
        let _ = writeln!(
            s,
            "  {t}: {}",
            match r {
                Reason::NewData { .. } => "new data",
                Reason::RevisedData { .. } => "revised data",
                _ => "changed",
            }
        );
    }
    let _ = writeln!(
        s,
        "{} figure(s) changed, {} unchanged, {} new, {} no longer reported.",
        d.changed.len(),
        d.unchanged,
        d.added,
        d.removed
    );
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    for c in &d.changed {
        let why: Vec<String> = c.reasons.iter().map(Reason::words).collect();
        let _ = writeln!(
            s,
            "  {} | {} | {} {}: {} -> {}{}  ({})",
            c.indicator_id,
            c.area_name,
            c.period_type.name(),
            c.period_label,
            fmt(c.before),
            fmt(c.after),
            if c.suppressed {
                " [suppressed in public outputs]"
            } else {
                ""
            },
            why.join("; ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::InputEntry;

    fn entry(fp: &str, at: &str) -> InputEntry {
        InputEntry {
            origin: String::new(),
            fingerprint: fp.into(),
            partitions: vec![],
            rows_read: 1,
            rows_landed: 1,
            rows_quarantined: 0,
            rows_superseded: 0,
            table_versions: Default::default(),
            min_month: None,
            max_month: None,
            landed_at: at.into(),
            stat: None,
        }
    }

    fn manifest(units: &[(&str, &str, &str)]) -> Manifest {
        Manifest {
            inputs: units
                .iter()
                .map(|(u, fp, at)| (u.to_string(), entry(fp, at)))
                .collect(),
            ..Manifest::default()
        }
    }

    #[test]
    fn new_units_are_new_data_and_changed_units_revised() {
        let a = manifest(&[("2026-09", "x", "t1")]);
        let b = manifest(&[("2026-09", "x", "t1"), ("2026-10", "y", "t2")]);
        assert_eq!(
            unit_changes("t", Some(&a), Some(&b)),
            Some(Reason::NewData {
                tables: vec!["t".into()]
            })
        );
        let c = manifest(&[("2026-09", "z", "t3"), ("2026-10", "y", "t2")]);
        assert_eq!(
            unit_changes("t", Some(&b), Some(&c)),
            Some(Reason::RevisedData {
                tables: vec!["t".into()]
            })
        );
        assert_eq!(unit_changes("t", Some(&c), Some(&c)), None);
    }

    #[test]
    fn a_moved_figure_names_its_reasons() {
        let key = (
            "asb".to_string(),
            "E10000017".to_string(),
            PeriodType::Month,
            "Sep 2026".to_string(),
        );
        let fig = |v: f64, hash: &str| Figure {
            area_name: "Lancashire".into(),
            value: Some(v),
            sql_hash: hash.into(),
            population_year: Some(2024),
            suppressed: false,
            settled: true,
        };
        let fa = BTreeMap::from([(key.clone(), fig(10.0, "h1"))]);
        let fb = BTreeMap::from([(key.clone(), fig(12.0, "h2"))]);
        let tables = BTreeMap::from([(
            "police_uk_street".to_string(),
            Reason::RevisedData {
                tables: vec!["police_uk_street".into()],
            },
        )]);
        let reads = BTreeMap::from([(
            "asb".to_string(),
            BTreeSet::from(["police_uk_street".to_string()]),
        )]);
        let d = compare("a", "b", &fa, &fb, &tables, &reads);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(
            d.changed[0].reasons,
            vec![
                Reason::RevisedData {
                    tables: vec!["police_uk_street".into()]
                },
                Reason::ChangedSql
            ]
        );
        let same = compare("a", "b", &fa, &fa, &tables, &reads);
        assert_eq!((same.changed.len(), same.unchanged), (0, 1));
    }
}
