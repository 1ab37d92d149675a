//! A strict `safer check` (issue 8): each kind of mistake an officer makes,
//! with the exact message, file, line and column it must produce. The
//! expected lines are written out here as the officer should read them.

use crate::common::header;
use crate::project::{self, safer};

fn write(root: &std::path::Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn check_names_every_mistake_with_its_file_line_column_and_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");

    // Before anything has landed, check says so plainly.
    let (code, out, _) = safer(&["check"], &root);
    assert_eq!(code, 1);
    assert!(
        out.contains("is empty, so no query can be checked against it: run `safer ingest`"),
        "{out}"
    );
    let (code, _, err) = safer(&["run", "--only", "ingest"], &root);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = safer(&["check"], &root);
    assert_eq!(code, 0, "the shipped indicators are clean:\n{out}");

    let h = |id: &str| header(id, "police_uk_street");
    write(
        &root,
        "queries/broken/typo.sql",
        &format!(
            "{}SELECT month, lsoa_cod AS area_code, COUNT(*) AS numerator\nFROM police_uk_street\nGROUP BY month, lsoa_code\n",
            h("typo")
        ),
    );
    write(
        &root,
        "queries/broken/table.sql",
        &format!(
            "{}SELECT month, lsoa_code AS area_code, COUNT(*) AS numerator\nFROM police_uk_stret\nGROUP BY month, lsoa_code\n",
            h("table")
        ),
    );
    write(
        &root,
        "queries/broken/syntax.sql",
        &format!(
            "{}SELECT month, lsoa_code AS area_code, COUNT(*) AS numerator\nFROM police_uk_street\nWHERE\n",
            h("syntax")
        ),
    );
    write(
        &root,
        "queries/broken/two.sql",
        &format!(
            "{}SELECT month, lsoa_code AS area_code, 1 AS numerator FROM police_uk_street;\nSELECT 2\n",
            h("two")
        ),
    );
    write(
        &root,
        "queries/broken/ddl.sql",
        &format!("{}CREATE TABLE x AS SELECT 1\n", h("ddl")),
    );
    write(
        &root,
        "queries/broken/columns.sql",
        &format!(
            "{}SELECT month, COUNT(*) AS n\nFROM police_uk_street\nGROUP BY month\n",
            h("columns")
        ),
    );
    write(
        &root,
        "queries/broken/types.sql",
        &format!(
            "{}SELECT month, lsoa_code AS area_code, crime_type AS numerator\nFROM police_uk_street\n",
            h("types")
        ),
    );
    write(
        &root,
        "queries/broken/area.sql",
        &format!(
            "{}SELECT month, 'Lancashire' AS area_code, COUNT(*) AS numerator\nFROM police_uk_street\nGROUP BY month\n",
            h("area")
        ),
    );
    write(
        &root,
        "queries/broken/tables.sql",
        &format!(
            "{}SELECT month, lookup.lad_code AS area_code, COUNT(*) AS numerator\nFROM police_uk_street AS s\nJOIN ons_lsoa_lookup AS lookup ON lookup.lsoa_code = s.lsoa_code\nGROUP BY month, lookup.lad_code\n",
            h("tables")
        ),
    );
    write(
        &root,
        "queries/broken/header.sql",
        "-- id: header\n-- title: Header\n-- description: Bad values.\n-- priority: Test\n-- tables: police_uk_street\n-- unit: rate per thousand\n-- polarty: lower is better\n-- owner: Tests\nSELECT month, lsoa_code AS area_code, COUNT(*) AS numerator\nFROM police_uk_street\nGROUP BY month, lsoa_code\n",
    );
    write(
        &root,
        "outputs/typos.toml",
        "title = \"T\"\naudience = \"public\"\nformats = [\"html\"]\nthemes = [\"Anti-social behavour\"]\nheadline_area = \"E10000099\"\n[[cells]]\nsheet = \"Return\"\ncell = \"B6\"\nindicator = \"asb_incident\"\n",
    );
    write(&root, "commentary/2026-09/asb_incident.md", "Falling.\n");

    let (code, out, _) = safer(&["check"], &root);
    assert_eq!(code, 1);
    let expected = [
        "./queries/broken/typo.sql:9:15: there is no column `lsoa_cod`; did you mean `lsoa_code`?",
        "./queries/broken/table.sql:10:6: there is no table `police_uk_stret`; did you mean `police_uk_street`?",
        "./queries/broken/syntax.sql:11:6: syntax error: expected an expression here, but found the end of the query",
        "./queries/broken/two.sql:10:1: an indicator or query is exactly one SELECT statement; this has 2",
        "./queries/broken/ddl.sql:9:1: only read-only queries (SELECT or WITH) are allowed; `CREATE TABLE` is refused",
        "./queries/broken/columns.sql: the query must return month, area_code and numerator (and denominator for a percentage); it is missing area_code, numerator (it returns month, n)",
        "./queries/broken/types.sql:9:53: `numerator` must be a number, but here it is text",
        "./queries/broken/area.sql:9:16: `'Lancashire'` is not an area code safer knows",
        "./queries/broken/tables.sql:5: the query reads `ons_lsoa_lookup`, `police_uk_street` but `tables:` does not list `ons_lsoa_lookup`",
        "./queries/broken/header.sql:1: the header needs `-- polarity: ...`",
        "./queries/broken/header.sql:6: unit `rate per thousand`: use count, percentage, rate per 1,000, rate per 10,000 or rate per 100,000",
        "./queries/broken/header.sql:7: unknown header key `polarty`: did you mean `polarity`?",
        "./outputs/typos.toml: theme `Anti-social behavour` matches no indicator's priority; did you mean `Anti-social behaviour`?",
        "./outputs/typos.toml: area `E10000099` is not a district, partnership or county code safer knows",
        "./outputs/typos.toml: cell Return!B6: indicator `asb_incident` does not exist; did you mean `asb_incidents`?",
        "warning: ./commentary/2026-09/asb_incident.md: commentary for `asb_incident`, which is no indicator's id, so it is never shown (did you mean `asb_incidents`?)",
    ];
    for e in expected {
        assert!(
            out.lines().any(|l| l.starts_with(e)),
            "missing `{e}` in:\n{out}"
        );
    }
    // The offending line is shown with a marker under the column.
    assert!(
        out.contains(
            " 9 | SELECT month, lsoa_cod AS area_code, COUNT(*) AS numerator\n   |               ^"
        ),
        "{out}"
    );
    // The same as JSON for editors and CI.
    let (code, json, _) = safer(&["check", "--format", "json"], &root);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let typo = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"].as_str().is_some_and(|p| p.ends_with("typo.sql")))
        .unwrap();
    assert_eq!(typo["line"], 9);
    assert_eq!(typo["column"], 15);
    assert_eq!(typo["severity"], "error");
}

/// `'Lancashire' AS area_code` is not an area code: the indicator fails
/// with the reason (in `safer query` and the ledger) instead of publishing
/// an empty section with "ok".
#[test]
fn an_area_code_that_is_not_one_fails_the_indicator_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let root = project::make(tmp.path(), &["html"], "");
    let (code, _, err) = safer(&["run", "--only", "ingest"], &root);
    assert_eq!(code, 0, "{err}");
    write(
        &root,
        "queries/broken/county.sql",
        &format!(
            "{}SELECT month, 'Lancashire' AS area_code, COUNT(*) AS numerator\nFROM police_uk_street\nGROUP BY month\n",
            header("county", "police_uk_street")
        ),
    );
    let (code, out, err) = safer(&["query", "county"], &root);
    assert_ne!(code, 0, "{out}");
    // 12 months of data, one row each, all with the same non-code.
    assert!(
        err.contains("12 of its 12 rows have an area_code that is not an area code ('Lancashire'); return district (E07...) or LSOA (E01...) codes"),
        "{err}"
    );
}
