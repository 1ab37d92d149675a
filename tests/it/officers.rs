//! The officers' workflow through the binary: every shipped indicator's
//! test passes, `safer new` scaffolds a file and a test that pass, a wrong
//! expectation fails with a readable diff and `--complete` fills it in, and
//! `safer docs` writes an accessible dictionary that agrees with the files.

use std::path::Path;
use std::process::Command;

use crate::project;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_indicator_has_a_passing_test() {
    // The repository has no safer.toml, so the demo project's tables apply.
    let (code, out, err) = project::safer(&["test", "--require-all"], repo());
    assert_eq!(code, 0, "{out}\n{err}");
    let ids = std::fs::read_dir(repo().join("queries"))
        .unwrap()
        .flatten()
        .filter(|d| d.path().is_dir() && !d.file_name().to_string_lossy().starts_with('_'))
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .count();
    assert!(ids >= 52, "{ids}");
    assert!(
        out.contains(&format!("{ids} passed, 0 failed, 0 without a test")),
        "{out}"
    );
}

#[test]
fn new_scaffolds_a_passing_test_and_a_wrong_expectation_shows_a_diff() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, out, err) =
        project::safer(&["new", "anti_social_behaviour/asb_street_drinking"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let sql = root.join("queries/anti_social_behaviour/asb_street_drinking.sql");
    let test = root.join("queries/anti_social_behaviour/asb_street_drinking.test");
    assert!(sql.exists() && test.exists());
    // The id is now taken.
    let (code, _, err) = project::safer(&["new", "other/asb_street_drinking"], &root);
    assert_ne!(code, 0);
    assert!(
        err.contains("the id `asb_street_drinking` is taken"),
        "{err}"
    );
    // The scaffold passes check and its own test as written.
    let (code, out, err) = project::safer(&["test", "asb_street_drinking"], &root);
    assert_eq!(code, 0, "{out}\n{err}");

    // An officer's mistake: Chorley's two January incidents typed as 3.
    let text = std::fs::read_to_string(&test).unwrap();
    let wrong = text.replace("2026-01-01,E07000123,2\n", "2026-01-01,E07000123,3\n");
    assert_ne!(wrong, text);
    std::fs::write(&test, &wrong).unwrap();
    let (code, out, err) = project::safer(&["test", "asb_street_drinking"], &root);
    assert_eq!(code, 1, "{out}\n{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains(
            "the query returned different rows from those the test expects (2 row(s) each)"
        ),
        "{all}"
    );
    assert!(
        all.contains("- 2026-01-01,E07000123,3   (expected, not returned)"),
        "{all}"
    );
    assert!(
        all.contains("+ 2026-01-01,E07000123,2   (returned, not expected)"),
        "{all}"
    );

    // --complete writes what the query returns into the expect block only.
    let (code, out, err) = project::safer(&["test", "asb_street_drinking", "--complete"], &root);
    assert_eq!(code, 0, "{out}\n{err}");
    let done = std::fs::read_to_string(&test).unwrap();
    assert!(done.contains("2026-01-01,E07000123,2\n"), "{done}");
    assert!(
        done.starts_with("# The test for asb_street_drinking."),
        "comments kept"
    );
    let (code, _, _) = project::safer(&["test", "asb_street_drinking"], &root);
    assert_eq!(code, 0);
}

#[test]
fn docs_write_an_accessible_dictionary_that_matches_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("docs");
    let (code, out, err) = project::safer(&["docs", "--out", out_dir.to_str().unwrap()], repo());
    assert_eq!(code, 0, "{out}\n{err}");
    let html = std::fs::read_to_string(out_dir.join("indicators.html")).unwrap();
    let md = std::fs::read_to_string(out_dir.join("indicators.md")).unwrap();
    let tables = std::fs::read_to_string(out_dir.join("tables.md")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en-GB\">"));
    // One entry per shipped indicator, in both forms.
    assert_eq!(html.matches("<h3 id=").count(), 52);
    assert_eq!(md.matches("\n### ").count(), 52);
    // A value read from one file's header appears beside its id.
    let marac = md.split("| Id | marac_cases_rate |").nth(1).unwrap();
    let marac = &marac[..marac.find("\n###").unwrap_or(marac.len())];
    assert!(
        marac.contains("| Denominator | females aged 16+ |"),
        "{marac}"
    );
    assert!(
        marac.contains("| Used by | committee-pack-full, committee-pack, performance-return |"),
        "{marac}"
    );
    // Views are documented tables too; the table dictionary has types in words.
    assert!(tables.contains("## `police_uk_street`"), "{tables}");
    assert!(tables.contains("| `month` | date |"), "{tables}");
    assert!(tables.contains("## `road_casualty_ksi` (view)"), "{tables}");
    assert!(
        tables.contains("Reads: stats19_casualty, stats19_collision."),
        "{tables}"
    );
    // The officers' guide carries the generated key table, unchanged.
    let guide = std::fs::read_to_string(repo().join("docs/writing-indicators.md")).unwrap();
    assert!(
        guide.contains(&safer::indicators::header::markdown_table()),
        "docs/writing-indicators.md: the header-key table differs from the key table in src/indicators/header.rs; paste the one `safer docs` writes at the end of indicators.md"
    );
    // axe-core in headless Chromium finds no WCAG 2.2 A/AA violation.
    let tools = repo().join("tests/tools");
    if tools.join("node_modules/axe-core").exists() && which("node") {
        let shot = tmp.path().join("docs.png");
        let o = Command::new("node")
            .arg(tools.join("axe.mjs"))
            .arg(out_dir.join("indicators.html"))
            .arg(&shot)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "axe-core: {report}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(report.contains("\"violations\": []"), "{report}");
    } else {
        assert!(
            std::env::var("SAFER_REQUIRE_TOOLS").is_err(),
            "tests/tools/node_modules missing: run npm ci in tests/tools"
        );
    }
}

fn which(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
