//! Whether a published pack is still the pack this run would build.
//!
//! A night with no new data should not print the packs again. Each manifest
//! records what its pack was built from as a fingerprint
//! (`content_sha256`); a run whose fingerprint matches, over a pack whose
//! files still have their recorded hashes, keeps that pack
//! ([`super::write_output`]).

use std::collections::HashMap;
use std::path::Path;

use chrono::Datelike;
use serde::Deserialize;

use super::{OutputDef, RunView, Series, file_name};
use crate::evaluation::ResultRow;

/// What a run gives its outputs, fingerprinted: everything the workbook
/// and HTML builders read, less the run's own identity (its id and start
/// time), plus the build of safer doing the rendering. (The PDF is that
/// HTML printed; a new browser or font is not seen, which is what
/// `--rebuild-outputs` is for.) Two runs with
/// the same fingerprint build the same packs apart from the run id and
/// time they print, so the second keeps the first's pack (see
/// [`super::write_output`]).
///
/// Result rows are hashed field by field without their run id
/// ([`feed_row`]); everything else as its JSON.
pub fn view_fingerprint(view: &RunView) -> String {
    use sha2::Digest;
    // Anything that cannot be fingerprinted makes this run's fingerprint
    // its own, matching no published pack: a pack is rebuilt, never kept
    // on a guess.
    let unique = || format!("not fingerprinted: run {}", view.run_id);
    let Some(identity) = build_identity() else {
        return unique();
    };
    let mut h = sha2::Sha256::new();
    h.update(identity.as_bytes());
    let mut ok = true;
    let mut part = |h: &mut sha2::Sha256, label: &str, v: &dyn erased::Json| {
        h.update(label.as_bytes());
        ok &= v.feed(&mut Feed(h));
        h.update(b"\n");
    };
    part(&mut h, "organisation", &view.organisation);
    part(&mut h, "latest_month", &view.latest_month);
    part(&mut h, "freshness", &view.freshness);
    part(&mut h, "sources", &view.sources);
    part(&mut h, "view_tables", &view.view_tables);
    part(&mut h, "notes", &view.notes);
    // A failing source test, less the time it was checked (every night):
    // the packs say which test fails and how, never when it was run.
    for c in &view.data_checks {
        let crate::sources::checks::Outcome {
            dataset,
            test,
            severity,
            passed,
            failing,
            detail,
            checked_at: _,
        } = c;
        part(
            &mut h,
            "data_check",
            &(dataset, test, severity, passed, failing, detail),
        );
    }
    part(&mut h, "restatements", &view.restatements);
    for s in &view.series {
        part(&mut h, "indicator", &s.indicator);
        part(&mut h, "error", &s.error);
    }
    let figures = match &view.figures_digest {
        Some(d) => Some(d.clone()),
        None => figures_digest(&view.series, &view.results),
    };
    match figures {
        Some(d) if ok => {
            h.update(b"figures");
            h.update(d.as_bytes());
        }
        _ => return unique(),
    }
    hex::encode(h.finalize())
}

/// The digest of a run's figures: every series' points and every result
/// row, field by field, less the run id. Worked out once when the figures
/// are computed and saved with them, so a night that reuses them
/// ([`crate::reuse`]) does not hash half a million rows again to find its
/// pack unchanged. `None` when a value cannot be written.
pub fn figures_digest(series: &[Series], results: &[ResultRow]) -> Option<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for s in series {
        h.update((s.indicator.id.len() as u64).to_le_bytes());
        h.update(s.indicator.id.as_bytes());
        h.update((s.points.len() as u64).to_le_bytes());
        for p in &s.points {
            let crate::indicators::Point {
                month,
                area_code,
                numerator,
                denominator,
            } = p;
            h.update(month.num_days_from_ce().to_le_bytes());
            h.update((area_code.len() as u64).to_le_bytes());
            h.update(area_code.as_bytes());
            h.update(numerator.to_bits().to_le_bytes());
            match denominator {
                Some(d) => {
                    h.update([1]);
                    h.update(d.to_bits().to_le_bytes());
                }
                None => h.update([0]),
            }
        }
    }
    h.update(b"results");
    let mut ok = true;
    for r in results {
        ok &= feed_row(&mut h, r);
    }
    ok.then(|| hex::encode(h.finalize()))
}

/// Bytes written into a hash.
struct Feed<'a>(&'a mut sha2::Sha256);

impl std::io::Write for Feed<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(self.0, b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One result row into the fingerprint, field by field, less its run id:
/// a tenth of the bytes of its JSON, which mattered at half a million rows
/// a run. The pattern names every field, so a field added to `ResultRow`
/// does not compile here until it is fed too.
fn feed_row(h: &mut sha2::Sha256, r: &ResultRow) -> bool {
    use sha2::Digest;
    fn text(h: &mut sha2::Sha256, x: &str) {
        h.update((x.len() as u64).to_le_bytes());
        h.update(x.as_bytes());
    }
    fn opt_text(h: &mut sha2::Sha256, x: &Option<String>) {
        match x {
            Some(x) => {
                h.update([1]);
                text(h, x);
            }
            None => h.update([0]),
        }
    }
    fn num(h: &mut sha2::Sha256, x: Option<f64>) {
        match x {
            Some(x) => {
                h.update([1]);
                h.update(x.to_bits().to_le_bytes());
            }
            None => h.update([0]),
        }
    }
    fn json(h: &mut sha2::Sha256, x: &dyn erased::Json) -> bool {
        x.feed(&mut Feed(h))
    }
    let ResultRow {
        run_id: _,
        indicator_id,
        sql_hash,
        area_code,
        area_name,
        area_level,
        period_type,
        period_label,
        period_start,
        period_end,
        complete,
        numerator,
        denominator,
        population,
        population_year,
        population_note,
        value,
        unit,
        polarity,
        previous_value,
        sply_value,
        direction_previous,
        direction_sply,
        target,
        status,
        spc_variation,
        spc_rules,
        spc_mean,
        spc_lower,
        spc_upper,
        spc_assurance,
        suppressed,
        previous_suppressed,
        sply_suppressed,
        provisional,
    } = r;
    for t in [
        indicator_id,
        sql_hash,
        area_code,
        area_name,
        area_level,
        period_label,
    ] {
        text(h, t);
    }
    let mut ok = json(h, period_type);
    for d in [period_start, period_end] {
        h.update(d.num_days_from_ce().to_le_bytes());
    }
    h.update([
        u8::from(*complete),
        u8::from(*suppressed),
        u8::from(*previous_suppressed),
        u8::from(*sply_suppressed),
        u8::from(*provisional),
    ]);
    for x in [
        Some(*numerator),
        *denominator,
        *population,
        *value,
        *previous_value,
        *sply_value,
        *target,
        *spc_mean,
        *spc_lower,
        *spc_upper,
    ] {
        num(h, x);
    }
    num(h, population_year.map(f64::from));
    opt_text(h, population_note);
    opt_text(h, spc_rules);
    ok &= json(h, unit);
    ok &= json(h, polarity);
    ok &= json(h, direction_previous);
    ok &= json(h, direction_sply);
    ok &= json(h, status);
    ok &= json(h, spc_variation);
    ok &= json(h, spc_assurance);
    h.update(b"\n");
    ok
}

/// JSON into a hash, for values of different types in one list.
mod erased {
    pub trait Json {
        /// False if the value could not be written (then the fingerprint
        /// must not be trusted).
        fn feed(&self, w: &mut dyn std::io::Write) -> bool;
    }
    impl<T: serde::Serialize> Json for T {
        fn feed(&self, w: &mut dyn std::io::Write) -> bool {
            serde_json::to_writer(w, self).is_ok()
        }
    }
}

/// This build of safer: its version, and the size and modification time
/// of the running program, so a rebuilt or upgraded safer (a change to how
/// a pack is laid out, with the same figures) builds its packs afresh.
/// `None` when the program cannot be looked at: then no pack is kept.
pub(crate) fn build_identity() -> Option<String> {
    let m = std::env::current_exe().and_then(std::fs::metadata).ok()?;
    let t = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!(
        "safer {} {} {t}",
        env!("CARGO_PKG_VERSION"),
        m.len()
    ))
}

/// The fingerprint of one output: the run's, the output's definition and
/// the commentary it carries.
pub(super) fn output_fingerprint(
    view_fp: &str,
    def: &OutputDef,
    commentary: &HashMap<String, String>,
    run_id: &str,
) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(view_fp.as_bytes());
    // As in `view_fingerprint`: what cannot be written makes the
    // fingerprint this run's own.
    let or_run = |r: serde_json::Result<Vec<u8>>| r.unwrap_or_else(|_| run_id.as_bytes().to_vec());
    h.update(or_run(serde_json::to_vec(def)));
    let mut notes: Vec<(&String, &String)> = commentary.iter().collect();
    notes.sort();
    h.update(or_run(serde_json::to_vec(&notes)));
    hex::encode(h.finalize())
}

/// What is read back from a published pack's manifest.
#[derive(Debug, Deserialize)]
struct PublishedManifest {
    run_id: String,
    #[serde(default)]
    content_sha256: Option<String>,
    files: Vec<PublishedFile>,
}

#[derive(Debug, Deserialize)]
struct PublishedFile {
    name: String,
    sha256: String,
}

/// The run whose pack in `dest` has fingerprint `fp` and is whole: every
/// file the definition asks for is there, and every file its manifest
/// lists still has the hash the manifest gives. Anything else (no pack, an
/// older manifest without a fingerprint, a missing PDF, a file edited or
/// damaged since) means the pack is built again.
pub(super) fn unchanged_pack(dest: &Path, fp: &str, def: &OutputDef, stem: &str) -> Option<String> {
    let text = std::fs::read(dest.join("manifest.json")).ok()?;
    let m: PublishedManifest = serde_json::from_slice(&text).ok()?;
    if m.content_sha256.as_deref() != Some(fp) {
        return None;
    }
    for f in &def.formats {
        let name = file_name(stem, *f);
        if !m.files.iter().any(|p| p.name == name) {
            return None;
        }
    }
    use sha2::Digest;
    for f in &m.files {
        let bytes = std::fs::read(dest.join(&f.name)).ok()?;
        if hex::encode(sha2::Sha256::digest(&bytes)) != f.sha256 {
            return None;
        }
    }
    Some(m.run_id)
}
