//! Outputs end to end (issue 4): the public committee pack (HTML, PDF,
//! workbook) and the internal return from a demo run, checked with
//! independent readers and tools: calamine, LibreOffice, headless Chromium
//! with axe-core, pdftotext, and a byte scan for suppressed values.
//!
//! The external tools are installed by `.ci/run`, which sets
//! `SAFER_REQUIRE_TOOLS=1` so a missing tool fails there; elsewhere those
//! checks say they were skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

fn tools_required() -> bool {
    std::env::var("SAFER_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// A tool on PATH, or None (failing when tools are required).
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !tools_required(),
            "{name} is required (SAFER_REQUIRE_TOOLS=1) but not installed"
        );
        eprintln!("SKIPPED checks that need {name}: not installed");
    }
    found
}

fn safer(args: &[&str], dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_safer"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn cell(range: &calamine::Range<Data>, row: u32, col: u32) -> String {
    range
        .get_value((row, col))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

#[test]
fn demo_outputs_read_back_render_and_pass_accessibility_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let (code, out) = safer(
        &[
            "demo",
            "--dir",
            dir.to_str().unwrap(),
            "--years",
            "2",
            "--seed",
            "11",
            "--end-month",
            "2025-09",
        ],
        tmp.path(),
    );
    let has_chromium = tool("chromium").is_some();
    // A missing PDF engine is said plainly but does not fail the run.
    assert_eq!(code, 0, "{out}");
    if !has_chromium {
        assert!(out.contains("PDF not produced"), "{out}");
    }
    let pack = dir.join("outputs/committee-pack/2025-09");
    let latest = std::fs::read_to_string(dir.join("outputs/committee-pack/latest.json")).unwrap();
    assert!(latest.contains("\"period\":\"2025-09\""), "{latest}");

    // The manifest lists every file with its real SHA-256, the query hashes
    // and the software version.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pack.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["software_version"], env!("CARGO_PKG_VERSION"));
    assert!(manifest["queries"].as_array().unwrap().len() >= 35);
    for f in manifest["files"].as_array().unwrap() {
        let bytes = std::fs::read(pack.join(f["name"].as_str().unwrap())).unwrap();
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&bytes))
        );
    }

    // Workbook: sheets and figures, read by calamine.
    let xlsx = pack.join("committee-pack-2025-09.xlsx");
    let mut wb: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let names = wb.sheet_names();
    for s in [
        "Cover",
        "Domestic abuse",
        "Hate crime",
        "Road safety",
        "Data dictionary",
        "Methods",
        "Provenance",
    ] {
        assert!(
            names.iter().any(|n| n == s),
            "missing sheet {s} in {names:?}"
        );
    }
    for s in ["Contents", "All indicators"] {
        assert!(
            names.iter().any(|n| n == s),
            "missing sheet {s} in {names:?}"
        );
    }
    // Every sheet name is whole words (shortened deliberately, never cut).
    for s in [
        "Criminal & sexual exploitation",
        "Violence against women & girls",
    ] {
        assert!(
            names.iter().any(|n| n == s),
            "missing sheet {s} in {names:?}"
        );
    }
    // The tidy sheet: percentages stored as fractions, counts as whole
    // numbers, every row with its area and period.
    let all = wb.worksheet_range("All indicators").unwrap();
    let header: Vec<String> = (0..14).map(|c| cell(&all, 0, c)).collect();
    assert_eq!(
        &header[..7],
        [
            "Indicator id",
            "Indicator",
            "Area code",
            "Area",
            "Period type",
            "Period",
            "Value"
        ]
    );
    let mut seen_pct = false;
    let mut seen_count = false;
    for r in 1..all.height() as u32 {
        let id = cell(&all, r, 0);
        if let Some(Data::Float(v)) = all.get_value((r, 6)) {
            if id == "charge_summons_rate" {
                assert!(
                    *v > 0.0 && *v < 1.0,
                    "a percentage is stored as a fraction: {v}"
                );
                seen_pct = true;
            }
            if id == "total_recorded_crime" {
                assert_eq!(v.fract(), 0.0);
                seen_count = true;
            }
        }
        assert!(!cell(&all, r, 3).is_empty() && !cell(&all, r, 5).is_empty());
    }
    assert!(seen_pct && seen_count);
    // Every part of the package: charts carry alt text, and no path of the
    // machine that ran it appears anywhere.
    let mut z = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut parts = String::new();
    for i in 0..z.len() {
        let mut part = z.by_index(i).unwrap();
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut part, &mut text);
        parts.push_str(&text);
    }
    assert!(
        parts.contains("descr=\"Line chart of "),
        "charts without alt text"
    );
    let here = tmp.path().to_string_lossy().to_string();
    assert!(!parts.contains(&here), "a local path in the workbook");
    assert!(
        !parts.contains("/queries/"),
        "a local query path in the workbook"
    );
    let cover = wb.worksheet_range("Cover").unwrap();
    assert_eq!(cell(&cover, 3, 1), "September 2025");
    assert!(cell(&cover, 5, 1).starts_with("Public"));

    // The internal return's template cell, checked against a count made
    // with SQL straight from the force extract: homicides in 2024-25,
    // pan-Lancashire.
    let ret = dir.join("outputs/performance-return/2025-09/performance-return-2025-09.xlsx");
    let mut wb: Xlsx<_> = open_workbook(&ret).unwrap();
    let svd = wb.worksheet_range("SVD return").unwrap();
    assert_eq!(cell(&svd, 5, 0), "Homicides (2024-25)");
    // Each figure has its area and period beside it, and an "of which"
    // line is for its total's period and no larger than it.
    assert_eq!(cell(&svd, 5, 3), "2024-25");
    assert!(!cell(&svd, 5, 2).is_empty());
    for (sub_row, total_row) in [(2u32, 1u32), (4, 3), (6, 5)] {
        assert_eq!(
            cell(&svd, sub_row, 3),
            cell(&svd, total_row, 3),
            "same period"
        );
        let v = |r: u32| match svd.get_value((r, 1)) {
            Some(Data::Float(x)) => *x,
            other => panic!("{other:?}"),
        };
        assert!(
            v(sub_row) <= v(total_row),
            "row {sub_row} larger than its total"
        );
        assert!(cell(&svd, sub_row, 4).is_empty(), "no CHECK note");
    }
    let (code, csv) = safer(
        &[
            "sql",
            "SELECT COUNT(*) FROM force_crime WHERE ho_offence_code = '1' AND district_code IS NOT NULL \
             AND recorded_date BETWEEN DATE '2024-04-01' AND DATE '2025-03-31'",
            "--format",
            "csv",
        ],
        &dir,
    );
    assert_eq!(code, 0, "{csv}");
    let expected: f64 = csv.lines().nth(1).unwrap().trim().parse().unwrap();
    assert_eq!(svd.get_value((5, 1)), Some(&Data::Float(expected)));

    // LibreOffice opens it without complaint and converts it.
    if let Some(lo) = tool("libreoffice") {
        let out_dir = tmp.path().join("lo");
        let status = Command::new(lo)
            .args([
                "--headless",
                "--norestore",
                "--convert-to",
                "csv",
                "--outdir",
            ])
            .arg(&out_dir)
            .arg(&xlsx)
            .env("HOME", tmp.path())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let csv = std::fs::read_to_string(out_dir.join("committee-pack-2025-09.csv")).unwrap();
        assert!(csv.contains("Lancashire County Council"), "{csv}");
    }

    // KSI: the 2023 release has no severity adjustment, so adjusted and
    // unadjusted years are never compared: the KSI series starts in 2024,
    // and says so; road deaths (the same on either basis) keep 2023.
    let count = |sql: &str| -> i64 {
        let (code, csv) = safer(&["sql", sql, "--format", "csv"], &dir);
        assert_eq!(code, 0, "{csv}");
        csv.lines().nth(1).unwrap().trim().parse().unwrap()
    };
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM indicator_results WHERE indicator_id = 'ksi_casualties' AND complete AND period_start < DATE '2024-01-01'"
        ),
        0
    );
    assert!(
        count(
            "SELECT COUNT(*) FROM indicator_results WHERE indicator_id = 'road_fatalities' AND complete AND period_type = 'month' AND period_start < DATE '2024-01-01'"
        ) > 0
    );
    let full_html = std::fs::read_to_string(
        dir.join("outputs/committee-pack-full/2025-09/committee-pack-full-2025-09.html"),
    )
    .unwrap();
    assert!(
        full_html.contains("Figures start in January 2024: DfT's severity adjustment"),
        "no comparability note"
    );

    // Geography from the output: district tables list Lancashire-12's
    // districts and its total; the unitary neighbours appear only as
    // labelled comparators below the total, never in the exception report.
    assert!(full_html.contains("Blackpool (comparator, not in Lancashire-12)"));
    assert!(!full_html.contains(r#"<tr><th scope="row">Blackpool</th>"#));
    let exc = &full_html
        [full_html.find("id=\"exceptions\"").unwrap()..full_html.find("id=\"headlines\"").unwrap()];
    assert!(
        !exc.contains("Blackpool") && !exc.contains("Blackburn"),
        "a neighbour in the exception report"
    );
    // The five hate crime strands sit together under one heading in the
    // headline table.
    let start = full_html.find("id=\"headlines\"").unwrap();
    let table = &full_html[start..start + full_html[start..].find("</table>").unwrap()];
    assert!(table.contains(r#"<th scope="colgroup" colspan="8">Hate crime by strand</th>"#));
    let order: Vec<&str> = table
        .split("href=\"#")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let strands = [
        "hate_race",
        "hate_religion",
        "hate_sexual_orientation",
        "hate_disability",
        "hate_transgender",
    ];
    let at: Vec<usize> = strands
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert_eq!(
        at.iter().max().unwrap() - at.iter().min().unwrap(),
        4,
        "{order:?}"
    );

    // HTML: self-contained, language set, exceptions before the detail.
    let html = std::fs::read_to_string(pack.join("committee-pack-2025-09.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en-GB\">"));
    assert!(!html.contains("<script"), "no JavaScript needed");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external requests"
    );
    let exc = html.find("id=\"exceptions\"").unwrap();
    let headlines = html.find("id=\"headlines\"").unwrap();
    assert!(exc < headlines);
    assert!(html.contains("Open Government Licence v3.0"));
    assert!(html.contains("<th scope=\"col\">"));
    assert!(html.contains("role=\"img\""));

    // Chromium renders it; axe-core finds no WCAG 2.2 A/AA violation.
    if has_chromium && tool("node").is_some() {
        let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
        if tools.join("node_modules/axe-core").exists() {
            let shot = tmp.path().join("pack.png");
            let out = Command::new("node")
                .arg(tools.join("axe.mjs"))
                .arg(pack.join("committee-pack-2025-09.html"))
                .arg(&shot)
                .output()
                .unwrap();
            let report = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "axe-core: {report}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(report.contains("\"violations\": []"), "{report}");
            assert!(
                std::fs::metadata(&shot).unwrap().len() > 10_000,
                "screenshot rendered"
            );
        } else {
            assert!(
                !tools_required(),
                "tests/tools/node_modules missing: run npm ci in tests/tools"
            );
            eprintln!("SKIPPED axe-core check: npm ci not run in tests/tools");
        }
    }

    // PDF: real text with the titles and a headline figure in it.
    if has_chromium && let Some(pdftotext) = tool("pdftotext") {
        let pdf = pack.join("committee-pack-2025-09.pdf");
        let out = Command::new(&pdftotext)
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
        assert!(text.contains("Exception report"));
        // A meeting paper: A4, numbered pages.
        assert!(text.contains("Page 1 of "), "no page numbers");
        if let Some(pdfinfo) = tool("pdfinfo") {
            let info = Command::new(pdfinfo).arg(&pdf).output().unwrap();
            let info = String::from_utf8_lossy(&info.stdout);
            assert!(info.contains("(A4)"), "not A4: {info}");
            // The members' pack is exception-led: at most 20 pages.
            let pages: u32 = info
                .lines()
                .find_map(|l| l.strip_prefix("Pages:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap();
            assert!(pages <= 20, "the members' pack has {pages} pages");
        }
        // Bookmarks: Chromium writes a document outline from the headings.
        let bytes = std::fs::read(&pdf).unwrap();
        assert!(
            bytes.windows(9).any(|w| w == b"/Outlines"),
            "PDF has no bookmarks"
        );
        // The full pack has every indicator in full.
        let full = dir.join("outputs/committee-pack-full/2025-09/committee-pack-full-2025-09.pdf");
        let out = Command::new(pdftotext)
            .arg(&full)
            .arg("-")
            .output()
            .unwrap();
        let full_text = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
        assert!(full_text.contains("MARAC cases per 10,000 females aged 16+"));
        // Total recorded crime, Lancashire-12, latest rolling year: the
        // figure from the results table must be in the PDF text.
        let (_, csv) = safer(
            &[
                "sql",
                "SELECT CAST(value AS BIGINT) FROM indicator_results WHERE indicator_id = 'total_recorded_crime' \
                 AND area_code = 'E10000017' AND period_type = 'rolling_12_months' AND complete \
                 ORDER BY period_end DESC LIMIT 1",
                "--format",
                "csv",
            ],
            &dir,
        );
        let n: i64 = csv.lines().nth(1).unwrap().trim().parse().unwrap();
        let formatted = format!("{},{:03}", n / 1000, n % 1000);
        assert!(text.contains(&formatted), "{formatted} not in the PDF");
    }
}

/// Every byte of a public output, for the suppression scan: HTML as is,
/// the workbook's XML parts unzipped (all sheets, notes, shared strings,
/// chart caches) and the PDF's text.
fn public_bytes(dir: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = p.to_string_lossy().to_string();
        if name.ends_with(".html") || name.ends_with(".json") {
            all.push_str(&std::fs::read_to_string(&p).unwrap());
        } else if name.ends_with(".xlsx") {
            // Every part of the package: sheets, shared strings, notes,
            // chart caches, document properties.
            let mut z = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
            for i in 0..z.len() {
                let mut part = z.by_index(i).unwrap();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut part, &mut text).unwrap();
                all.push_str(&text);
            }
        } else if name.ends_with(".pdf") && tool("pdftotext").is_some() {
            let out = Command::new("pdftotext").arg(&p).arg("-").output().unwrap();
            all.push_str(&String::from_utf8_lossy(&out.stdout));
        }
    }
    all
}

#[test]
fn no_suppressed_value_appears_anywhere_in_a_public_output() {
    use safer::indicators::Point;
    use safer::outputs::{OutputDef, view_fingerprint, write_output};

    // A percentage indicator: Preston has cases only in March 2025, 3 of 7
    // (42.857...%), so every Preston period containing that month is
    // primary-suppressed; Chorley has 310 of 700 every month (44.3%). The
    // value 42.857 occurs only in suppressed cells, so it is distinctive
    // enough to search for in every byte.
    let mut points = Vec::new();
    for i in 0..24 {
        let month = safer::evaluation::periods::month_from_index(2023 * 12 + 3 + i);
        points.push(Point {
            month,
            area_code: "E07000118".into(),
            numerator: 310.0,
            denominator: Some(700.0),
        });
    }
    points.push(Point {
        month: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        area_code: "E07000123".into(),
        numerator: 3.0,
        denominator: Some(7.0),
    });
    let view = pct_view("scan", "2025-04-01T00:00:00Z", points);
    assert!(
        view.results
            .iter()
            .any(|r| r.suppressed && r.area_code == "E07000123")
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut formats = vec![safer::outputs::Format::Html, safer::outputs::Format::Xlsx];
    if tool("chromium").is_some() {
        formats.push(safer::outputs::Format::Pdf);
    }
    let def = OutputDef {
        name: "public".into(),
        title: "Public test pack".into(),
        audience: safer::outputs::Audience::Public,
        formats,
        themes: Vec::new(),
        indicators: Vec::new(),
        headline_area: Some("E07000123".into()),
        cells: Vec::new(),
        detail: Default::default(),
        comparators: Vec::new(),
    };
    let w = write_output(
        tmp.path(),
        &tmp.path().join("commentary"),
        &def,
        &view,
        &view_fingerprint(&view),
        false,
    )
    .unwrap();
    assert!(w.notes.is_empty(), "{:?}", w.notes);
    let bytes = public_bytes(&tmp.path().join("public/2025-03"));
    assert!(bytes.contains("[c]"), "suppressed cells are marked");
    for needle in ["42.86", "42.9%", "42.857", "0.428"] {
        assert!(!bytes.contains(needle), "suppressed value {needle} leaked");
    }
    assert!(bytes.contains("Test percentage"));

    // The same pack for an internal audience does show it: the scan can
    // find what it looks for.
    let internal = OutputDef {
        name: "internal".into(),
        audience: safer::outputs::Audience::Internal,
        ..def
    };
    write_output(
        tmp.path(),
        &tmp.path().join("commentary"),
        &internal,
        &view,
        &view_fingerprint(&view),
        false,
    )
    .unwrap();
    assert!(public_bytes(&tmp.path().join("internal/2025-03")).contains("42.9%"));
}

/// A public output never holds an internal indicator, whatever its
/// definition says; `safer check` names the attempt.
#[test]
fn a_public_pack_never_contains_an_internal_indicator() {
    let tmp = tempfile::tempdir().unwrap();
    let root = crate::project::make(tmp.path(), &["html", "xlsx"], "");
    // The project's public pack selects everything, including the internal
    // no_location_crimes; a second output names it outright.
    std::fs::write(
        root.join("outputs/named.toml"),
        "title = \"Named\"\naudience = \"public\"\nformats = [\"html\"]\nindicators = [\"no_location_crimes\", \"asb_incidents\"]\n",
    )
    .unwrap();
    let (code, out, err) = crate::project::safer(&["run"], &root);
    assert!(code == 0 || code == 1, "{out}\n{err}");
    for output in ["committee-pack", "named"] {
        let dir = root.join(format!("outputs/{output}/2026-09"));
        let all = public_bytes(&dir);
        assert!(!all.is_empty(), "{output} was published");
        assert!(
            !all.contains("no_location_crimes"),
            "{output} names the internal indicator"
        );
        assert!(
            !all.contains("Crimes published without a location"),
            "{output}"
        );
    }
    let html =
        std::fs::read_to_string(root.join("outputs/named/2026-09/named-2026-09.html")).unwrap();
    assert!(
        html.contains("Anti-social behaviour incidents"),
        "the public indicator is there"
    );
    let (code, out, _) = crate::project::safer(&["check"], &root);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "this output is public but names `no_location_crimes`, whose disclosure is internal"
        ),
        "{out}"
    );
}

/// A run's view of one percentage indicator (`test_pct`, higher is
/// better) measured as `points`, evaluated for March 2025 with the public
/// threshold of 4, as run `run_id` would give it.
fn pct_view(
    run_id: &str,
    run_time: &str,
    points: Vec<safer::indicators::Point>,
) -> safer::outputs::RunView {
    use safer::evaluation::spec::Spec;
    use safer::evaluation::{Context, Populations, evaluate};
    use safer::geography::Crosswalk;
    use safer::indicators::Indicator;
    let meta = [
        ("unit", "percentage"),
        ("polarity", "higher is better"),
        ("description", "Test percentage."),
    ];
    let ind = Indicator {
        id: "test_pct".into(),
        title: "Test percentage".into(),
        theme: "Test".into(),
        unit: "percentage".into(),
        polarity: "higher is better".into(),
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        path: "queries/test/test_pct.sql".into(),
        sql: String::new(),
        sql_hash: "h".into(),
        lines: Default::default(),
    };
    let spec = Spec::from_indicator(&ind).unwrap();
    let ctx = Context {
        run_id: run_id.into(),
        reporting_month: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        crosswalk: Crosswalk::default(),
        populations: Populations::default(),
        threshold: 4.0,
        coverage: Default::default(),
    };
    let results = evaluate(&ind, &spec, &points, &ctx);
    safer::outputs::RunView {
        organisation: "Test Council".into(),
        run_id: run_id.into(),
        run_time: run_time.into(),
        latest_month: NaiveDate::from_ymd_opt(2025, 3, 1),
        freshness: Vec::new(),
        sources: Vec::new(),
        data_checks: Vec::new(),
        view_tables: Default::default(),
        notes: Default::default(),
        series: vec![safer::outputs::Series {
            indicator: ind,
            points,
            error: None,
        }],
        results,
        restatements: Vec::new(),
        figures_digest: None,
    }
}

/// Chorley alone, `chorley` cases of 700 every month for two years.
fn small_view(run_id: &str, run_time: &str, chorley: f64) -> safer::outputs::RunView {
    let points = (0..24)
        .map(|i| safer::indicators::Point {
            month: safer::evaluation::periods::month_from_index(2023 * 12 + 3 + i),
            area_code: "E07000118".into(),
            numerator: chorley,
            denominator: Some(700.0),
        })
        .collect();
    pct_view(run_id, run_time, points)
}

/// A night with no new data keeps the published pack (built by the run
/// that built it, its files untouched) instead of printing it again; a
/// changed figure, new commentary, a damaged file or `rebuild` builds it.
#[test]
fn an_unchanged_pack_is_kept_and_a_changed_one_is_built() {
    use safer::outputs::{Audience, Format, OutputDef, view_fingerprint, write_output};
    let tmp = tempfile::tempdir().unwrap();
    let commentary = tmp.path().join("commentary");
    let def = OutputDef {
        name: "pack".into(),
        title: "Test pack".into(),
        audience: Audience::Public,
        formats: vec![Format::Html, Format::Xlsx],
        themes: Vec::new(),
        indicators: Vec::new(),
        headline_area: Some("E07000118".into()),
        cells: Vec::new(),
        detail: Default::default(),
        comparators: Vec::new(),
    };
    let dir = tmp.path().join("pack/2025-03");
    let manifest_run = || -> String {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        m["run_id"].as_str().unwrap().to_string()
    };
    let html = dir.join("pack-2025-03.html");
    let write = |view: &safer::outputs::RunView, rebuild: bool| {
        write_output(
            tmp.path(),
            &commentary,
            &def,
            view,
            &view_fingerprint(view),
            rebuild,
        )
        .unwrap()
    };

    let first = small_view("run-1", "2025-04-01T01:00:00Z", 310.0);
    let w = write(&first, false);
    assert_eq!(w.kept_from, None);
    assert_eq!(manifest_run(), "run-1");
    let built = std::fs::read_to_string(&html).unwrap();
    assert!(built.contains("run-1"), "the pack names its run");

    // The next night: same figures, another run id and time.
    let second = small_view("run-2", "2025-04-02T01:00:00Z", 310.0);
    assert_eq!(view_fingerprint(&first), view_fingerprint(&second));
    let w = write(&second, false);
    assert_eq!(w.kept_from.as_deref(), Some("run-1"));
    assert!(w.files.contains(&html), "{:?}", w.files);
    assert_eq!(manifest_run(), "run-1");
    assert_eq!(std::fs::read_to_string(&html).unwrap(), built);

    // Asked to rebuild, it is built by that run.
    let w = write(&second, true);
    assert_eq!(w.kept_from, None);
    assert_eq!(manifest_run(), "run-2");

    // One figure moves: a different fingerprint, a new pack.
    let third = small_view("run-3", "2025-04-03T01:00:00Z", 311.0);
    assert_ne!(view_fingerprint(&second), view_fingerprint(&third));
    assert_eq!(write(&third, false).kept_from, None);
    assert_eq!(manifest_run(), "run-3");

    // Commentary written for the month is in the pack: built again.
    std::fs::create_dir_all(commentary.join("2025-03")).unwrap();
    std::fs::write(commentary.join("2025-03/test_pct.md"), "Steady all year.\n").unwrap();
    let fourth = small_view("run-4", "2025-04-04T01:00:00Z", 311.0);
    assert_eq!(write(&fourth, false).kept_from, None);
    assert_eq!(manifest_run(), "run-4");
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("Steady all year.")
    );

    // A published file edited or damaged since: built again, not vouched for.
    std::fs::write(&html, "<p>edited</p>").unwrap();
    let fifth = small_view("run-5", "2025-04-05T01:00:00Z", 311.0);
    assert_eq!(write(&fifth, false).kept_from, None);
    assert_eq!(manifest_run(), "run-5");
    assert!(std::fs::read_to_string(&html).unwrap().contains("run-5"));
}
