//! Text of few values (a force, an LSOA, a crime type) is read as a
//! dictionary (issue 11): the files say so in their Arrow hint, the engine
//! groups, joins and filters on it as on any text, answers come back as
//! plain text, and a table landed before the hint existed keeps its rows
//! and files. Expected values are counted by hand from the fixture.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use safer::engine::{Engine, EngineLimits};
use safer::lake::{Lake, Landing};
use safer::schema::{Column, ColumnType};
use safer::sources::{land_police_uk, police_uk};

use crate::common::{fixture, input_entry, rows, scalar};

/// The Arrow type a landed file asks its readers to read `column` as.
fn hinted_type(file: &Path, column: &str) -> DataType {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(file).unwrap()).unwrap();
    b.schema()
        .field_with_name(column)
        .unwrap()
        .data_type()
        .clone()
}

fn dictionary() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

#[tokio::test]
async fn text_of_few_values_is_read_as_a_dictionary_and_answered_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    land_police_uk(&lake, &fixture("police_uk"), None, None, &mut Vec::new()).unwrap();
    let m = lake.manifest(police_uk::TABLE).unwrap().unwrap();
    let file = tmp
        .path()
        .join("lake/police_uk_street")
        .join(&m.files["year=2024"].path);
    // The hint: the crime type, force, LSOA and location as dictionaries;
    // the unique Crime ID as plain text.
    for c in [
        "crime_type",
        "falls_within",
        "lsoa_code",
        "last_outcome_category",
        "location",
    ] {
        assert_eq!(hinted_type(&file, c), dictionary(), "{c}");
    }
    assert_eq!(hinted_type(&file, "crime_id"), DataType::Utf8);
    // The Parquet column underneath is plain UTF-8 either way: a reader
    // that ignores the hint reads text.
    let plain = ParquetRecordBatchReaderBuilder::try_new_with_options(
        File::open(&file).unwrap(),
        ArrowReaderOptions::new().with_skip_arrow_metadata(true),
    )
    .unwrap();
    assert_eq!(
        plain
            .schema()
            .field_with_name("crime_type")
            .unwrap()
            .data_type(),
        &DataType::Utf8
    );

    // Nine rows landed (lands_every_quirk_and_quarantines_the_rest): in
    // 2012-03 one `Violent crime` (landed as Violence and sexual offences),
    // one Public disorder and weapons and one ASB; in 2024-01 Shoplifting,
    // two ASB, Burglary, Vehicle crime and Violence and sexual offences.
    let by_type = rows(
        &lake,
        "SELECT crime_type, count(*) AS n FROM police_uk_street GROUP BY crime_type ORDER BY n DESC, crime_type",
    )
    .await;
    let expect = [
        ["Anti-social behaviour", "3"],
        ["Violence and sexual offences", "2"],
        ["Burglary", "1"],
        ["Public disorder and weapons", "1"],
        ["Shoplifting", "1"],
        ["Vehicle crime", "1"],
    ];
    assert_eq!(by_type, expect.map(|r| r.map(String::from).to_vec()));

    // Grouped on three dictionary keys and one plain one; the rows with an
    // LSOA are the 2012 violence (E01012680) and disorder (E01012600), and
    // in 2024 E01025264 twice ASB and once Shoplifting, E01025430 Burglary,
    // E01027960 Vehicle crime.
    let by_place = rows(
        &lake,
        "SELECT lsoa_code, crime_type, falls_within, count(*) AS n, min(location) AS at \
         FROM police_uk_street WHERE lsoa_code IS NOT NULL \
         GROUP BY lsoa_code, crime_type, falls_within ORDER BY lsoa_code, crime_type",
    )
    .await;
    let got: Vec<(String, String, String)> = by_place
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[3].clone()))
        .collect();
    let want = [
        ("E01012600", "Public disorder and weapons", "1"),
        ("E01012680", "Violence and sexual offences", "1"),
        ("E01025264", "Anti-social behaviour", "2"),
        ("E01025264", "Shoplifting", "1"),
        ("E01025430", "Burglary", "1"),
        ("E01027960", "Vehicle crime", "1"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(got, want);
    assert!(by_place.iter().all(|r| r[2] == "Lancashire Constabulary"));

    // A grouped key joined back to the dictionary column it came from, and
    // set beside a literal in a UNION: the engine brings the types into line.
    assert_eq!(
        scalar(
            &lake,
            "WITH g AS (SELECT crime_type, count(*) AS n FROM police_uk_street GROUP BY crime_type) \
             SELECT g.n FROM police_uk_street s JOIN g ON g.crime_type = s.crime_type \
             WHERE s.crime_id LIKE 'aaaa%'"
        )
        .await,
        "1"
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM (SELECT crime_type FROM police_uk_street GROUP BY crime_type \
             UNION ALL SELECT 'Not a type')"
        )
        .await,
        "7"
    );
    // Filters on the dictionary: 3 ASB rows, 6 others, 2 with no LSOA.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM police_uk_street WHERE crime_type <> 'Anti-social behaviour' AND lsoa_code LIKE 'E0102%'"
        )
        .await,
        "3"
    );
    // The location is a dictionary too: King Street in 2012 and Church
    // Street, Ormskirk in 2024; the two ASB rows share one map point.
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM police_uk_street WHERE location LIKE '%Street%'"
        )
        .await,
        "2"
    );
    assert_eq!(
        rows(
            &lake,
            "SELECT location, count(*) AS n FROM police_uk_street \
             GROUP BY location HAVING count(*) > 1 ORDER BY location"
        )
        .await,
        vec![vec!["On or near Parking Area".to_string(), "2".to_string()]]
    );

    // What the engine hands on is plain text, whatever it read.
    let engine = Engine::open(&lake, EngineLimits::default()).await.unwrap();
    let (schema, batches) = engine
        .query("SELECT crime_type, lsoa_code, count(*) AS n FROM police_uk_street GROUP BY 1, 2")
        .await
        .unwrap();
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
    for b in &batches {
        assert_eq!(b.column(0).data_type(), &DataType::Utf8);
    }
    let (schema, _) = engine
        .query("SELECT crime_type FROM police_uk_street WHERE crime_id IS NULL")
        .await
        .unwrap();
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
}

fn batch(landing: &Landing, unit: &str, area: &[&str], n: &[i64]) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(area.to_vec())),
        Arc::new(Int64Array::from(n.to_vec())),
        safer::lake::input_column(unit, n.len()),
    ];
    RecordBatch::try_new(landing.schema(), cols).unwrap()
}

/// A lake landed before `few_values` existed: marking a column so is not a
/// new declaration. The table is not rebuilt from its inputs; its files are
/// rewritten once, from the files, with the new hint, so every file is read
/// the same way; the rows and the record of their inputs are kept.
#[tokio::test]
async fn marking_text_as_few_values_keeps_the_rows_already_landed() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let before = vec![
        Column::new("area", ColumnType::String),
        Column::new("n", ColumnType::Int),
    ];
    let after = vec![
        Column::new("area", ColumnType::String).few_values(),
        Column::new("n", ColumnType::Int),
    ];
    assert!(safer::schema::same_declaration(&before, &after));

    let mut first = Landing::begin(&lake, "t", before.clone()).unwrap();
    first
        .write(
            "year=2024",
            &batch(&first, "u0", &["A", "B", "A"], &[1, 2, 3]),
        )
        .unwrap();
    first.record_input("u0", input_entry("year=2024", 3));
    first.commit().unwrap();
    let old_file = lake.manifest("t").unwrap().unwrap().files["year=2024"]
        .path
        .clone();
    let dir = tmp.path().join("lake/t");
    assert_eq!(hinted_type(&dir.join(&old_file), "area"), DataType::Utf8);

    // The next landing brings 2025 only; 2024 is rewritten from its file.
    let mut second = Landing::begin(&lake, "t", after).unwrap();
    second
        .write("year=2025", &batch(&second, "u1", &["B", "C"], &[10, 20]))
        .unwrap();
    second.record_input("u1", input_entry("year=2025", 2));
    let summary = second.commit().unwrap();
    assert_eq!(summary.total_rows, 5, "the 2024 rows were kept");
    assert_eq!(summary.partitions_written, ["year=2024", "year=2025"]);
    let m = lake.manifest("t").unwrap().unwrap();
    assert!(m.columns[0].few_values);
    assert_eq!(
        m.inputs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["u0", "u1"],
        "the 2024 input is still recorded, not read again"
    );
    assert_ne!(m.files["year=2024"].path, old_file);
    for p in ["year=2024", "year=2025"] {
        assert_eq!(
            hinted_type(&dir.join(&m.files[p].path), "area"),
            dictionary(),
            "{p}"
        );
    }

    // The flag rides in a table property of its own: `safer.columns` stays
    // as a safer from before it reads it (its column description refuses
    // fields it does not know), so a rollback still opens the table.
    let config = newest_configuration(&dir);
    let declared = config["safer.columns"].as_str().unwrap();
    let old_reader: Vec<ColumnBeforeFewValues> = serde_json::from_str(declared).unwrap();
    assert_eq!(old_reader.len(), 2);
    assert_eq!(config["safer.fewValues"].as_str(), Some(r#"["area"]"#));

    // A: 1 + 3; B: 2 + 10; C: 20.
    let got = sums_by_area(&lake).await;
    assert_eq!(
        got,
        [["A", "4"], ["B", "12"], ["C", "20"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(
        scalar(&lake, "SELECT count(*) FROM t WHERE area = 'B'").await,
        "2"
    );

    // Turning it off again rewrites the files as plain text, and drops the
    // property; the same declaration again rewrites nothing.
    let mut third = Landing::begin(&lake, "t", before.clone()).unwrap();
    third
        .write("year=2026", &batch(&third, "u2", &["D"], &[100]))
        .unwrap();
    third.record_input("u2", input_entry("year=2026", 1));
    assert_eq!(third.commit().unwrap().partitions_written.len(), 3);
    let m = lake.manifest("t").unwrap().unwrap();
    for p in ["year=2024", "year=2025", "year=2026"] {
        assert_eq!(
            hinted_type(&dir.join(&m.files[p].path), "area"),
            DataType::Utf8,
            "{p}"
        );
    }
    assert!(newest_configuration(&dir).get("safer.fewValues").is_none());
    let mut fourth = Landing::begin(&lake, "t", before).unwrap();
    fourth
        .write("year=2026", &batch(&fourth, "u3", &["D"], &[1000]))
        .unwrap();
    fourth.record_input("u3", input_entry("year=2026", 1));
    assert_eq!(fourth.commit().unwrap().partitions_written, ["year=2026"]);
    // A 4, B 12, C 20, D 100 + 1000.
    let got = sums_by_area(&lake).await;
    assert_eq!(
        got,
        [["A", "4"], ["B", "12"], ["C", "20"], ["D", "1100"]].map(|r| r.map(String::from).to_vec())
    );
}

/// `area` and the sum of `n`, in the order of `area`.
async fn sums_by_area(lake: &Lake) -> Vec<Vec<String>> {
    rows(
        lake,
        "SELECT area, sum(n) FROM t GROUP BY area ORDER BY area",
    )
    .await
}

/// The column description of a safer from before `few_values` (the same
/// fields, refusing any other).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ColumnBeforeFewValues {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    format: Option<String>,
}

/// The table configuration of the newest metaData action in the log.
fn newest_configuration(dir: &Path) -> serde_json::Value {
    let mut latest = serde_json::Value::Null;
    for (name, text) in crate::common::delta_log_state(dir) {
        if !name.ends_with(".json") {
            continue;
        }
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if !v["metaData"].is_null() {
                latest = v["metaData"]["configuration"].clone();
            }
        }
    }
    latest
}
