//! STATS19 readers on hand-written collision and casualty files in both the
//! current (`collision_*`) and older (`accident_*`) layouts (issue 2).

use safer::lake::Lake;
use safer::sources::land_stats19;

use crate::common::{fixture, rows, scalar};

#[tokio::test]
async fn lands_both_layouts_with_types_and_quarantine() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let mut problems = Vec::new();
    let reports = land_stats19(&lake, &fixture("stats19"), &mut problems).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let by = |d: &str| reports.iter().find(|r| r.dataset == d).unwrap().clone();
    let coll = by("stats19_collision");
    assert_eq!(
        (coll.rows_read, coll.rows_landed, coll.rows_quarantined),
        (5, 5, 0)
    );
    let cas = by("stats19_casualty");
    // Five casualty rows; one has age "abc" and is quarantined.
    assert_eq!(
        (cas.rows_read, cas.rows_landed, cas.rows_quarantined),
        (5, 4, 1)
    );

    // accident_* names land as collision_*; the 2015 release lacks the
    // severity adjustment, which lands as null; `NULL` text is null.
    let old = rows(
        &lake,
        "SELECT collision_index, collision_ref_no, collision_severity, \
         collision_adjusted_severity_serious, location_easting_osgr \
         FROM stats19_collision WHERE collision_year = 2015 ORDER BY collision_index",
    )
    .await;
    assert_eq!(
        old,
        vec![
            vec!["201504A000001", "04A000001", "2", "NULL", "NULL"],
            vec!["201504A000002", "04A000002", "3", "NULL", "NULL"],
        ]
    );
    // DD/MM/YYYY dates become dates; the ONS district code is text.
    assert_eq!(
        scalar(
            &lake,
            "SELECT CAST(date AS VARCHAR) || ' ' || local_authority_ons_district \
             FROM stats19_collision WHERE collision_index = '2023040000003'"
        )
        .await,
        "2023-12-29 E06000009"
    );
    // Severity-adjusted KSI for 2023, by hand from the fixture:
    // fatal casualty 1 + adjusted serious 1.0 + 0.25 + 0.12 = 2.37.
    let ksi = scalar(
        &lake,
        "SELECT ROUND(SUM(CASE WHEN casualty_severity = 1 THEN 1.0 \
         ELSE COALESCE(casualty_adjusted_severity_serious, 0) END), 2) \
         FROM stats19_casualty WHERE collision_year = 2023",
    )
    .await;
    assert_eq!(ksi, "2.37");
    // The engine's `road_casualty_ksi` view, which the KSI indicators use,
    // gives the same 2.37 (and puts it in the collision's district).
    let view = rows(
        &lake,
        "SELECT district_code, ROUND(SUM(ksi), 2) FROM road_casualty_ksi \
         WHERE date_part('year', month) = 2023 GROUP BY 1 ORDER BY 1",
    )
    .await;
    // E06000009: fatal 1.0; E07000123: 1.0 + 0.25; E07000127: 0.12.
    assert_eq!(
        view,
        vec![
            vec!["E06000009", "1.0"],
            vec!["E07000123", "1.25"],
            vec!["E07000127", "0.12"],
        ]
    );
    let q = rows(
        &lake,
        "SELECT line, reason FROM quarantine WHERE dataset = 'stats19_casualty'",
    )
    .await;
    assert_eq!(q.len(), 1);
    assert_eq!(q[0][0], "6");
    assert!(q[0][1].contains("`age_of_casualty` `abc`"), "{}", q[0][1]);
    // Partitioned by collision year.
    let m = lake.manifest("stats19_collision").unwrap().unwrap();
    assert_eq!(
        m.files.keys().collect::<Vec<_>>(),
        ["year=2015", "year=2023"]
    );
}

#[tokio::test]
async fn refuses_unexpected_columns_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("drop");
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::fs::read_to_string(fixture(
        "stats19/dft-road-casualty-statistics-casualty-2023.csv",
    ))
    .unwrap();
    let mut lines = src.lines();
    let header = lines.next().unwrap().replace("sex_of_casualty", "gender");
    let body: Vec<&str> = lines.collect();
    std::fs::write(
        dir.join("dft-road-casualty-statistics-casualty-2023.csv"),
        format!("{header}\n{}\n", body.join("\n")),
    )
    .unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let mut problems = Vec::new();
    let reports = land_stats19(&lake, &dir, &mut problems).unwrap();
    assert_eq!(reports[0].inputs_refused, 1);
    assert!(
        problems[0].contains("missing columns: `sex_of_casualty`"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("unexpected columns: `gender`"),
        "{}",
        problems[0]
    );
    assert!(lake.manifest("stats19_casualty").unwrap().is_none());
}

/// A one-year file holds that year: a row whose collision_year or date is
/// another year is quarantined with the reason, the others land.
#[tokio::test]
async fn rows_outside_the_files_year_are_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let src = crate::common::fixture("stats19/dft-road-casualty-statistics-collision-2023.csv");
    let text = std::fs::read_to_string(&src).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let good = lines.next().unwrap();
    // Same row, with its index changed, dated 2022 (date and year), and
    // dated 2022 with year 2023.
    let cols: Vec<&str> = header.split(',').collect();
    let at = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    let edit = |idx: &str, year: &str, date: &str| {
        let mut f: Vec<String> = good.split(',').map(String::from).collect();
        f[at("collision_index")] = idx.into();
        f[at("collision_year")] = year.into();
        f[at("date")] = date.into();
        f.join(",")
    };
    let body = format!(
        "{header}\n{good}\n{}\n{}\n",
        edit("2022040000009", "2022", "14/03/2022"),
        edit("2023040000009", "2023", "14/03/2022"),
    );
    let dir = tmp.path().join("stats19");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dft-road-casualty-statistics-collision-2023.csv"),
        body,
    )
    .unwrap();
    let lake = Lake::open(tmp.path().join("lake")).unwrap();
    let mut problems = Vec::new();
    let r = safer::sources::land_stats19(&lake, &dir, &mut problems).unwrap();
    let c = r.iter().find(|d| d.dataset == "stats19_collision").unwrap();
    assert_eq!((c.rows_read, c.rows_landed, c.rows_quarantined), (3, 1, 2));
    let q = rows(
        &lake,
        "SELECT line, reason FROM quarantine WHERE dataset = 'stats19_collision' ORDER BY line",
    )
    .await;
    assert_eq!(
        q,
        vec![
            vec![
                "3".to_string(),
                "`collision_year` 2022 is not the year of this file (2023)".to_string()
            ],
            vec![
                "4".to_string(),
                "`date` 14/03/2022 is not in `collision_year` 2023".to_string()
            ],
        ]
    );
}
