//! The evaluation engine on hand-built series, with every expected value
//! worked out by hand in the comments (issue 3): one indicator of each unit
//! and polarity, rates from the right population year, incomplete periods,
//! roll-up through the crosswalk and suppression.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use safer::evaluation::spec::Spec;
use safer::evaluation::{Context, Populations, ResultRow, evaluate};
use safer::geography::Crosswalk;
use safer::indicators::{Indicator, Point};

const PRESTON: &str = "E07000123";
const CHORLEY: &str = "E07000118";

fn d(y: i32, m: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, 1).unwrap()
}

fn indicator(meta: &[(&str, &str)]) -> Indicator {
    let meta: BTreeMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Indicator {
        id: "test".into(),
        title: "Test".into(),
        theme: "test".into(),
        unit: meta.get("unit").cloned().unwrap_or_else(|| "count".into()),
        polarity: meta
            .get("polarity")
            .cloned()
            .unwrap_or_else(|| "monitor".into()),
        meta,
        path: PathBuf::from("queries/test/test.sql"),
        sql: String::new(),
        sql_hash: "abc".into(),
        lines: Default::default(),
    }
}

/// Preston: 10 a month Apr 2023 - Mar 2024, 9 a month Apr 2024 - Mar 2025.
fn preston_series() -> Vec<Point> {
    let mut v = Vec::new();
    for i in 0..24 {
        let m = safer::evaluation::periods::month_from_index(2023 * 12 + 3 + i);
        v.push(Point {
            month: m,
            area_code: PRESTON.into(),
            numerator: if i < 12 { 10.0 } else { 9.0 },
            denominator: None,
        });
    }
    v
}

fn context() -> Context {
    // Mid-2023 and mid-2024 estimates for every district (rates roll up only
    // when every district has a figure): 100,000 people in each district,
    // half female, split evenly over ages 0-99 (1,000 per single year of
    // age), except Preston in 2024: 152,000 (1,520 per year of age).
    let mut pops = Populations::default();
    for dist in safer::geography::DISTRICTS {
        for year in [2023, 2024] {
            let per_age = if dist.code == PRESTON && year == 2024 {
                1520.0
            } else {
                1000.0
            };
            for age in 0..100 {
                pops.add(dist.code, true, age, year, per_age / 2.0);
                pops.add(dist.code, false, age, year, per_age / 2.0);
            }
        }
    }
    Context {
        run_id: "test-run".into(),
        reporting_month: d(2025, 3),
        crosswalk: Crosswalk::new(vec![("E01025264".to_string(), PRESTON.to_string())]),
        populations: pops,
        threshold: 4.0,
        coverage: Default::default(),
    }
}

fn find<'a>(rows: &'a [ResultRow], area: &str, kind: &str, label: &str) -> &'a ResultRow {
    rows.iter()
        .find(|r| r.area_code == area && r.period_type.name() == kind && r.period_label == label)
        .unwrap_or_else(|| panic!("no row {area} {kind} {label}"))
}

#[test]
fn count_lower_is_better_with_target_against_sply() {
    let ind = indicator(&[
        ("polarity", "lower is better"),
        ("target", "-5% vs sply"),
        ("tolerance", "1%"),
    ]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    // FY 2024-25: 12 x 9 = 108; SPLY (2023-24) 12 x 10 = 120; target
    // 120 x 0.95 = 114, tolerance 1.14: 108 <= 115.14 -> green.
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert!(fy.complete);
    assert_eq!(fy.value, Some(108.0));
    assert_eq!(fy.sply_value, Some(120.0));
    assert_eq!(fy.previous_value, Some(120.0));
    assert_eq!(fy.target, Some(114.0));
    assert_eq!(fy.status.map(|s| s.colour().name()), Some("green"));
    assert_eq!(
        fy.direction_sply.map(|d| d.label()).as_deref(),
        Some("down 10.0% (better)")
    );
    // The first year has no SPLY: no target, so no RAG.
    let first = find(&rows, PRESTON, "financial_year", "2023-24");
    assert_eq!(
        (first.target, first.status.map(|s| s.colour().name())),
        (None, None)
    );
    // Quarter Q4 2024-25 (Jan-Mar 2025) = 27, previous quarter 27, SPLY 30.
    let q = find(&rows, PRESTON, "quarter", "2024-25 Q4");
    assert_eq!(
        (q.value, q.previous_value, q.sply_value),
        (Some(27.0), Some(27.0), Some(30.0))
    );
    assert_eq!(
        q.direction_previous.map(|d| d.label()).as_deref(),
        Some("no change")
    );
    // Rolling 12 to Sep 2024: Oct 2023 - Sep 2024 = 6 x 10 + 6 x 9 = 114.
    assert_eq!(
        find(&rows, PRESTON, "rolling_12_months", "12 months to Sep 2024").value,
        Some(114.0)
    );
    // Year to date to Sep 2024: Apr-Sep 2024 = 54; SPLY Apr-Sep 2023 = 60.
    let ytd = find(&rows, PRESTON, "year_to_date", "2024-25 to Sep");
    assert_eq!((ytd.value, ytd.sply_value), (Some(54.0), Some(60.0)));
    assert_eq!(
        ytd.status, None,
        "a year to date is never rated as if it were the year"
    );
    // Roll-up: Preston is its own CSP, is in Lancashire-12 and -14; other
    // districts count zero, so every level above Preston is 108 too.
    for area in ["csp-preston", "E10000017", "E23000003"] {
        assert_eq!(
            find(&rows, area, "financial_year", "2024-25").value,
            Some(108.0),
            "{area}"
        );
    }
    assert_eq!(
        find(&rows, CHORLEY, "financial_year", "2024-25").value,
        Some(0.0)
    );
    // Pennine Lancashire does not contain Preston.
    assert_eq!(
        find(&rows, "csp-pennine-lancashire", "financial_year", "2024-25").value,
        Some(0.0)
    );
    // Every result carries the run id and the SQL hash.
    assert!(
        rows.iter()
            .all(|r| r.run_id == "test-run" && r.sql_hash == "abc")
    );
}

#[test]
fn a_missed_target_is_amber_only_when_better_than_sply() {
    // Lower is better with a fixed annual target of 100: 108 misses by
    // more than 2% (102), but is better than SPLY 120 -> amber.
    let ind = indicator(&[
        ("polarity", "lower is better"),
        ("target", "100"),
        ("tolerance", "2%"),
    ]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    assert_eq!(
        find(&rows, PRESTON, "financial_year", "2024-25")
            .status
            .map(|s| s.colour().name()),
        Some("amber")
    );
    // Higher is better with the same numbers: 108 beats 100 -> green; the
    // first year (120) also beats it.
    let ind = indicator(&[("polarity", "higher is better"), ("target", "115")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    // 108 < 115 and lower than SPLY 120 (worse, for higher-is-better) -> red.
    assert_eq!(
        find(&rows, PRESTON, "financial_year", "2024-25")
            .status
            .map(|s| s.colour().name()),
        Some("red")
    );
    assert_eq!(
        find(&rows, PRESTON, "financial_year", "2023-24")
            .status
            .map(|s| s.colour().name()),
        Some("green")
    );
}

#[test]
fn rates_use_the_right_population_year_and_say_when_they_cannot() {
    let ind = indicator(&[("unit", "rate per 1,000"), ("denominator", "all people")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    // FY 2024-25 uses mid-2024: 108 / 152,000 x 1,000 = 0.710526...
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert_eq!(
        (fy.population, fy.population_year),
        (Some(152_000.0), Some(2024))
    );
    assert!((fy.value.unwrap() - 108.0 / 152.0).abs() < 1e-12);
    assert_eq!(fy.population_note, None);
    // FY 2023-24 uses mid-2023: 120 / 100,000 x 1,000 = 1.2.
    assert!(
        (find(&rows, PRESTON, "financial_year", "2023-24")
            .value
            .unwrap()
            - 1.2)
            .abs()
            < 1e-12
    );
    // January 2025 needs mid-2025, not published: mid-2024 is used and said.
    let jan = find(&rows, PRESTON, "month", "Jan 2025");
    assert_eq!(jan.population_year, Some(2024));
    assert!(
        jan.population_note
            .as_deref()
            .unwrap()
            .contains("mid-2025 estimate is not yet published")
    );
    assert!((jan.value.unwrap() - 9.0 / 152.0).abs() < 1e-12);
    // Lancashire-12 in 2023: 12 districts x 100,000; 120 / 1,200,000 x 1,000 = 0.1.
    let l12 = find(&rows, "E10000017", "financial_year", "2023-24");
    assert_eq!(l12.population, Some(1_200_000.0));
    assert!((l12.value.unwrap() - 0.1).abs() < 1e-12);
    // Per 10,000 adult females: Preston 2024 has 1,520 / 2 = 760 females per
    // year of age, ages 18-99 = 82 years -> 62,320; 108 / 62,320 x 10,000.
    let ind = indicator(&[
        ("unit", "rate per 10,000"),
        ("denominator", "adult females"),
    ]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert_eq!(fy.population, Some(62_320.0));
    assert!((fy.value.unwrap() - 108.0 / 62_320.0 * 10_000.0).abs() < 1e-9);
}

#[test]
fn percentages_and_monitor_indicators() {
    // 3 of 10 each month in 2023-24, 6 of 10 in 2024-25.
    let pts: Vec<Point> = preston_series()
        .into_iter()
        .map(|mut p| {
            p.denominator = Some(10.0);
            p.numerator = if p.numerator == 10.0 { 3.0 } else { 6.0 };
            p
        })
        .collect();
    let ind = indicator(&[
        ("unit", "percentage"),
        ("polarity", "higher is better"),
        ("target", "50"),
        ("tolerance", "2"),
    ]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &pts, &context());
    // 72 / 120 = 60% >= 48 -> green; 2023-24: 36 / 120 = 30% -> red (no SPLY).
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert_eq!((fy.value, fy.denominator), (Some(60.0), Some(120.0)));
    // A change in a percentage is in percentage points: 30% to 60% is 30
    // points, not "up 100%".
    assert_eq!(
        fy.direction_sply.map(|d| d.label()).as_deref(),
        Some("up 30.0 percentage points (better)")
    );
    assert_eq!(fy.status.map(|s| s.colour().name()), Some("green"));
    assert_eq!(
        find(&rows, PRESTON, "financial_year", "2023-24")
            .status
            .map(|s| s.colour().name()),
        Some("red")
    );
    // A district with no cases has no percentage at all, not 0%.
    assert_eq!(
        find(&rows, CHORLEY, "financial_year", "2024-25").value,
        None
    );

    // Monitor-only: values, directions (neutral) but never a RAG.
    let ind = indicator(&[("polarity", "monitor")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    assert!(rows.iter().all(|r| r.status.is_none()));
    assert_eq!(
        find(&rows, PRESTON, "financial_year", "2024-25")
            .direction_sply
            .map(|d| d.label())
            .as_deref(),
        Some("down 10.0% (neutral)")
    );
    assert!(Spec::from_indicator(&indicator(&[("polarity", "monitor"), ("target", "5")])).is_err());
}

#[test]
fn incomplete_periods_are_marked_and_not_rated() {
    // Data stops in January 2025: 2024-25 has 10 of its 12 months.
    let pts: Vec<Point> = preston_series()
        .into_iter()
        .filter(|p| p.month <= d(2025, 1))
        .collect();
    let ind = indicator(&[("polarity", "lower is better"), ("target", "200")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &pts, &context());
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert!(!fy.complete);
    assert_eq!(fy.value, Some(90.0)); // Apr 2024 - Jan 2025, 10 x 9
    assert_eq!(
        (
            fy.status.map(|s| s.colour().name()),
            fy.target,
            fy.direction_sply.map(|d| d.label()).as_deref()
        ),
        (None, None, None)
    );
    // The quarter Jan-Mar 2025 has one month: incomplete too.
    assert!(!find(&rows, PRESTON, "quarter", "2024-25 Q4").complete);
    assert!(find(&rows, PRESTON, "quarter", "2024-25 Q3").complete);
}

#[test]
fn lsoa_points_roll_up_and_outside_areas_are_left_out() {
    let pts = vec![
        Point {
            month: d(2024, 4),
            area_code: "E01025264".into(),
            numerator: 7.0,
            denominator: None,
        },
        Point {
            month: d(2024, 4),
            area_code: PRESTON.into(),
            numerator: 3.0,
            denominator: None,
        },
        // An Ashfield LSOA in a Lancashire file: not counted anywhere.
        Point {
            month: d(2024, 4),
            area_code: "E01027960".into(),
            numerator: 50.0,
            denominator: None,
        },
    ];
    let ind = indicator(&[]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &pts, &context());
    assert_eq!(find(&rows, PRESTON, "month", "Apr 2024").numerator, 10.0);
    assert_eq!(
        find(&rows, "E23000003", "month", "Apr 2024").numerator,
        10.0
    );
}

#[test]
fn small_counts_are_suppressed_with_a_partner_and_comparisons_hidden() {
    // April 2024: Preston 3 (primary), Chorley 20, every other district 0.
    // Preston is alone in its CSP, so the Preston CSP total (3) hides too;
    // the Lancashire-12 total (23) minus Chorley (20) would give Preston
    // away, so a second district in the Lancashire-12 line must hide:
    // Chorley (the only other non-zero one).
    let mut pts = vec![
        Point {
            month: d(2024, 4),
            area_code: PRESTON.into(),
            numerator: 3.0,
            denominator: None,
        },
        Point {
            month: d(2024, 4),
            area_code: CHORLEY.into(),
            numerator: 20.0,
            denominator: None,
        },
    ];
    // May 2024: Preston 12, Chorley 20: nothing small.
    pts.push(Point {
        month: d(2024, 5),
        area_code: PRESTON.into(),
        numerator: 12.0,
        denominator: None,
    });
    pts.push(Point {
        month: d(2024, 5),
        area_code: CHORLEY.into(),
        numerator: 20.0,
        denominator: None,
    });
    let ind = indicator(&[]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &pts, &context());
    let apr = |a: &str| find(&rows, a, "month", "Apr 2024").suppressed;
    assert!(apr(PRESTON) && apr("csp-preston"));
    assert!(apr(CHORLEY), "secondary suppression");
    // Once any figure of an area is hidden, so are all its months: May's 12
    // beside a total of April and May would give April away.
    assert!(find(&rows, PRESTON, "month", "May 2024").suppressed);
    // May's "previous period" is the hidden April figure: hidden too.
    assert!(find(&rows, PRESTON, "month", "May 2024").previous_suppressed);
    // Zero is never suppressed.
    assert!(!apr("E07000117"));
    // Internal indicators are not suppressed at all.
    let ind = indicator(&[("disclosure", "internal")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &pts, &context());
    assert!(rows.iter().all(|r| !r.suppressed));
}

#[tokio::test]
async fn the_results_table_keeps_only_the_newest_runs() {
    let ind = indicator(&[("polarity", "monitor")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    let tmp = tempfile::tempdir().unwrap();
    let lake = safer::lake::Lake::open(tmp.path()).unwrap();
    for id in [
        "20270101T013000Z-a",
        "20270102T013000Z-b",
        "20270103T013000Z-c",
        "20270104T013000Z-d",
    ] {
        let mine: Vec<ResultRow> = rows
            .iter()
            .cloned()
            .map(|mut r| {
                r.run_id = id.into();
                r
            })
            .collect();
        safer::evaluation::results::land(&lake, id, &mine, 3, &Default::default()).unwrap();
    }
    let kept = crate::common::rows(
        &lake,
        "SELECT run_id, COUNT(*) FROM indicator_results GROUP BY run_id ORDER BY run_id",
    )
    .await;
    let n = rows.len().to_string();
    assert_eq!(
        kept,
        vec![
            vec!["20270102T013000Z-b".to_string(), n.clone()],
            vec!["20270103T013000Z-c".to_string(), n.clone()],
            vec!["20270104T013000Z-d".to_string(), n],
        ]
    );
    // One file per kept run: a landing writes its own run's rows and
    // drops the oldest run's file, copying no other run's rows.
    let m = lake.manifest("indicator_results").unwrap().unwrap();
    let partitions: Vec<&str> = m.files.keys().map(String::as_str).collect();
    assert_eq!(
        partitions,
        vec![
            "run=20270102T013000Z-b",
            "run=20270103T013000Z-c",
            "run=20270104T013000Z-d"
        ]
    );
}

/// Preston open cases at each month end: 1, 2, ..., 24 (Apr 2023 - Mar 2025).
fn rising_series() -> Vec<Point> {
    (0..24)
        .map(|i| Point {
            month: safer::evaluation::periods::month_from_index(2023 * 12 + 3 + i),
            area_code: PRESTON.into(),
            numerator: f64::from(i + 1),
            denominator: None,
        })
        .collect()
}

#[test]
fn aggregate_says_how_months_add_up() {
    let run = |aggregate: &str| {
        let ind = indicator(&[("aggregate", aggregate)]);
        let spec = Spec::from_indicator(&ind).unwrap();
        evaluate(&ind, &spec, &rising_series(), &context())
    };
    // Sum (the default): FY 2024-25 is months 13..=24, 13 + ... + 24 = 222.
    let sum = run("sum");
    assert_eq!(
        find(&sum, PRESTON, "financial_year", "2024-25").value,
        Some(222.0)
    );
    // Latest (a snapshot): the year is its last month, March 2025 = 24; the
    // quarter Oct-Dec 2024 is December = 21; the county is Preston's 24 too.
    let latest = run("latest");
    assert_eq!(
        find(&latest, PRESTON, "financial_year", "2024-25").value,
        Some(24.0)
    );
    assert_eq!(
        find(&latest, PRESTON, "quarter", "2024-25 Q3").value,
        Some(21.0)
    );
    assert_eq!(
        find(&latest, "E10000017", "financial_year", "2024-25").value,
        Some(24.0)
    );
    // Its SPLY is March 2024 = 12.
    assert_eq!(
        find(&latest, PRESTON, "financial_year", "2024-25").sply_value,
        Some(12.0)
    );
    // Average: 222 / 12 = 18.5.
    let avg = run("average");
    assert_eq!(
        find(&avg, PRESTON, "financial_year", "2024-25").value,
        Some(18.5)
    );
    // Distinct: months only; a year would double-count.
    let distinct = run("distinct");
    assert_eq!(
        find(&distinct, PRESTON, "month", "Mar 2025").value,
        Some(24.0)
    );
    assert!(
        distinct.iter().all(|r| r.period_type.name() == "month"),
        "only months"
    );
    // Bad values and unsound pairs are refused in words.
    let e = Spec::from_indicator(&indicator(&[("aggregate", "total")])).unwrap_err();
    assert_eq!(
        e,
        vec!["aggregate `total`: use sum, ratio, average, latest or distinct".to_string()]
    );
    let e = Spec::from_indicator(&indicator(&[("unit", "percentage"), ("aggregate", "sum")]))
        .unwrap_err();
    assert!(e[0].contains("percentages cannot be added"), "{e:?}");
}

#[test]
fn every_status_says_how_it_was_reached() {
    let words = |meta: &[(&str, &str)]| {
        let ind = indicator(meta);
        let spec = Spec::from_indicator(&ind).unwrap();
        let rows = evaluate(&ind, &spec, &preston_series(), &context());
        let fy = find(&rows, PRESTON, "financial_year", "2024-25").clone();
        (fy.status, safer::outputs::status_words(&fy, &spec, false))
    };
    use safer::evaluation::rag::Status;
    // 2024-25 is 108; last year 120; -5% of 120 is 114.
    let (s, w) = words(&[("polarity", "lower is better"), ("target", "-5% vs sply")]);
    assert_eq!(s, Some(Status::OnTarget));
    assert_eq!(
        w.as_deref(),
        Some(
            "2024-25: 108 against a target of 114 (last year's 120 less 5%) (lower is better); met."
        )
    );
    // 108 against 105 with a tolerance of 4: a miss by 3, within tolerance,
    // never "on target".
    let (s, w) = words(&[
        ("polarity", "lower is better"),
        ("target", "105"),
        ("tolerance", "4"),
    ]);
    assert_eq!(s, Some(Status::WithinTolerance));
    assert_eq!(
        w.as_deref(),
        Some(
            "2024-25: 108 against a target of 105 (lower is better); missed by 3, within the tolerance of 4."
        )
    );
    // 108 against 100 with a tolerance of 4: missed by 8, better than 120.
    let (s, w) = words(&[
        ("polarity", "lower is better"),
        ("target", "100"),
        ("tolerance", "4"),
    ]);
    assert_eq!(s, Some(Status::MissedImproving));
    assert_eq!(
        w.as_deref(),
        Some(
            "2024-25: 108 against a target of 100 (lower is better); missed by 8, more than the tolerance of 4."
        )
    );
    // 108 against 250: beaten by more than half, which the owner is told.
    let (_, w) = words(&[("polarity", "lower is better"), ("target", "250")]);
    assert!(
        w.unwrap().ends_with(
            "met. The target is beaten by a wide margin: its owner may wish to review it."
        )
    );
    // Suppressed figures: only the rule.
    let ind = indicator(&[("polarity", "lower is better"), ("target", "-5% vs sply")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert_eq!(
        safer::outputs::status_words(fy, &spec, true).as_deref(),
        Some(
            "2024-25: rated against a target of -5% on the same period last year; figures suppressed to protect individuals."
        )
    );
}

/// Months with no events are zeros over the months the sources cover, so
/// completeness and "latest" follow the coverage, not the events.
#[test]
fn months_without_events_are_zeros_over_the_source_coverage() {
    let pts = vec![
        Point {
            month: d(2024, 6),
            area_code: PRESTON.into(),
            numerator: 3.0,
            denominator: None,
        },
        Point {
            month: d(2024, 8),
            area_code: PRESTON.into(),
            numerator: 2.0,
            denominator: None,
        },
    ];
    let ind = indicator(&[("polarity", "lower is better")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let mut ctx = context(); // reporting month March 2025
    ctx.coverage.insert("test".into(), (d(2023, 4), d(2025, 3)));
    let rows = evaluate(&ind, &spec, &pts, &ctx);
    // FY 2024-25 is complete (the source covers all of it): 3 + 2 = 5.
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert!(fy.complete);
    assert_eq!(fy.value, Some(5.0));
    // FY 2023-24 had no events: a complete zero, and the SPLY of 2024-25.
    let before = find(&rows, PRESTON, "financial_year", "2023-24");
    assert_eq!((before.complete, before.value), (true, Some(0.0)));
    assert_eq!(fy.sply_value, Some(0.0));
    // March 2025 is the latest month, a zero; the last rolling year ends
    // there too, and none runs past the reporting month.
    let mar = find(&rows, PRESTON, "month", "Mar 2025");
    assert_eq!((mar.complete, mar.value), (true, Some(0.0)));
    assert_eq!(
        find(&rows, PRESTON, "rolling_12_months", "12 months to Mar 2025").value,
        Some(5.0)
    );
    assert!(
        rows.iter().all(|r| r.period_end <= d(2025, 3)
            || matches!(
                r.period_type.name(),
                "quarter" | "financial_year" | "calendar_year"
            )),
        "a rolling year or year to date past the reporting month"
    );
    // The SPC chart runs over all 24 months: mean 5 / 24.
    assert!((mar.spc_mean.unwrap() - 5.0 / 24.0).abs() < 1e-9);
    // Without coverage, the same points start in June 2024, so FY 2024-25
    // would be incomplete: the coverage is what makes it whole.
    let bare = evaluate(&ind, &spec, &pts, &context());
    assert!(!find(&bare, PRESTON, "financial_year", "2024-25").complete);
}

/// Reduced row echelon form over the hidden entries: `true` for each hidden
/// entry that the published figures determine exactly.
fn determined(relations: &[Vec<(usize, f64)>], hidden: &[usize]) -> Vec<bool> {
    let col: std::collections::HashMap<usize, usize> =
        hidden.iter().enumerate().map(|(k, i)| (*i, k)).collect();
    let n = hidden.len();
    let mut m: Vec<Vec<f64>> = relations
        .iter()
        .map(|rel| {
            let mut row = vec![0.0; n];
            for (i, c) in rel {
                if let Some(k) = col.get(i) {
                    row[*k] += c;
                }
            }
            row
        })
        .filter(|r| r.iter().any(|x| x.abs() > 1e-9))
        .collect();
    let mut pivot_row = 0;
    let mut pivots = Vec::new();
    for c in 0..n {
        let Some(p) = (pivot_row..m.len()).max_by(|a, b| m[*a][c].abs().total_cmp(&m[*b][c].abs()))
        else {
            break;
        };
        if m[p][c].abs() < 1e-9 {
            continue;
        }
        m.swap(pivot_row, p);
        let lead = m[pivot_row][c];
        for x in m[pivot_row].iter_mut() {
            *x /= lead;
        }
        for r in 0..m.len() {
            if r != pivot_row && m[r][c].abs() > 1e-12 {
                let f = m[r][c];
                let pr = m[pivot_row].clone();
                for (x, y) in m[r].iter_mut().zip(pr) {
                    *x -= f * y;
                }
            }
        }
        pivots.push((pivot_row, c));
        pivot_row += 1;
    }
    let mut out = vec![false; n];
    for (r, c) in pivots {
        if m[r]
            .iter()
            .enumerate()
            .all(|(k, x)| k == c || x.abs() < 1e-9)
        {
            out[c] = true;
        }
    }
    out
}

/// No hidden figure can be worked out from the published ones by any
/// linear combination, over geography and time together: every published
/// longer period is the sum of its months, every area the sum of its
/// districts, and the hidden figures are the unknowns. Built from the
/// geography's own membership, not from the suppression code's lines.
#[test]
fn no_hidden_value_can_be_derived_from_what_is_published() {
    // Two years: Preston 10 a month except July 2024 (3); Chorley 2 a month
    // (every month small); Lancaster 6 a month except October 2023 (0).
    let lancaster = "E07000121";
    let mut pts = Vec::new();
    for i in 0..24 {
        let m = safer::evaluation::periods::month_from_index(2023 * 12 + 3 + i);
        let p = |area: &str, n: f64| Point {
            month: m,
            area_code: area.into(),
            numerator: n,
            denominator: None,
        };
        pts.push(p(PRESTON, if m == d(2024, 7) { 3.0 } else { 10.0 }));
        pts.push(p(CHORLEY, 2.0));
        pts.push(p(lancaster, if m == d(2023, 10) { 0.0 } else { 6.0 }));
    }
    let ind = indicator(&[("polarity", "lower is better")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &pts, &context());
    let key = |r: &ResultRow| {
        (
            r.area_code.clone(),
            r.period_type,
            r.period_start,
            r.period_end,
        )
    };
    let index: std::collections::HashMap<_, usize> =
        rows.iter().enumerate().map(|(i, r)| (key(r), i)).collect();
    let mut relations: Vec<Vec<(usize, f64)>> = Vec::new();
    // Time: a longer period is the sum of its months, for the same area.
    use safer::evaluation::periods::PeriodType;
    for (i, r) in rows.iter().enumerate() {
        if r.period_type == PeriodType::Month || !r.complete {
            continue;
        }
        let mut rel = vec![(i, -1.0)];
        let mut m = r.period_start;
        while m <= r.period_end {
            let k = (r.area_code.clone(), PeriodType::Month, m, m);
            rel.push((index[&k], 1.0));
            m = safer::evaluation::periods::month_from_index(
                safer::evaluation::periods::month_index(m) + 1,
            );
        }
        relations.push(rel);
    }
    // Geography: every area above a district is the sum of its districts.
    let districts: Vec<&safer::geography::District> = safer::geography::DISTRICTS.iter().collect();
    for (i, r) in rows.iter().enumerate() {
        if r.area_level == "district" {
            continue;
        }
        let members: Vec<&str> = districts
            .iter()
            .filter(|d| {
                safer::geography::Crosswalk::ancestors(d)
                    .iter()
                    .any(|a| a.code == r.area_code)
            })
            .map(|d| d.code)
            .collect();
        let mut rel = vec![(i, -1.0)];
        for code in members {
            let k = (
                code.to_string(),
                r.period_type,
                r.period_start,
                r.period_end,
            );
            match index.get(&k) {
                Some(j) => rel.push((*j, 1.0)),
                None => continue,
            }
        }
        relations.push(rel);
    }
    let hidden: Vec<usize> = (0..rows.len()).filter(|i| rows[*i].suppressed).collect();
    assert!(!hidden.is_empty());
    let found = determined(&relations, &hidden);
    let leaks: Vec<String> = hidden
        .iter()
        .zip(&found)
        .filter(|(_, f)| **f)
        .map(|(i, _)| {
            format!(
                "{} {} {}",
                rows[*i].area_code,
                rows[*i].period_type.name(),
                rows[*i].period_label
            )
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "derivable from what is published: {leaks:?}"
    );
    // And it still says something: July 2024 in Preston is hidden, but
    // Lancashire-12's months and its latest rolling year are published.
    assert!(find(&rows, PRESTON, "month", "Jul 2024").suppressed);
    assert!(!find(&rows, "E10000017", "month", "Jul 2024").suppressed);
    assert!(
        !find(
            &rows,
            "E10000017",
            "rolling_12_months",
            "12 months to Mar 2025"
        )
        .suppressed
    );
}

/// The latest months of an outcome-based indicator are still being
/// recorded: periods that include them are provisional and not rated, and
/// the chart stops before them.
#[test]
fn provisional_months_are_marked_not_rated_and_left_off_the_chart() {
    let ind = indicator(&[
        ("polarity", "lower is better"),
        ("target", "200"),
        ("provisional_months", "2"),
    ]);
    let spec = Spec::from_indicator(&ind).unwrap();
    assert_eq!(spec.provisional_months, 2);
    let rows = evaluate(&ind, &spec, &preston_series(), &context());
    // Data to March 2025: February and March are provisional, so is the
    // year 2024-25 (it ends in March): complete, but not rated.
    let fy = find(&rows, PRESTON, "financial_year", "2024-25");
    assert!(fy.complete && fy.provisional);
    assert_eq!(fy.status, None);
    // 2023-24 is settled and rated: 120 against 200, lower is better.
    let before = find(&rows, PRESTON, "financial_year", "2023-24");
    assert!(!before.provisional);
    assert_eq!(
        before.status,
        Some(safer::evaluation::rag::Status::OnTarget)
    );
    // The chart covers April 2023 to January 2025 only.
    assert!(
        find(&rows, PRESTON, "month", "Jan 2025")
            .spc_variation
            .is_some()
    );
    for m in ["Feb 2025", "Mar 2025"] {
        let r = find(&rows, PRESTON, "month", m);
        assert!(r.provisional && r.spc_variation.is_none(), "{m}");
    }
    assert!(!find(&rows, PRESTON, "rolling_12_months", "12 months to Jan 2025").provisional);
    assert!(Spec::from_indicator(&indicator(&[("provisional_months", "many")])).is_err());
}

/// District rates against the county's by a funnel test, worked by hand.
#[test]
fn a_district_rate_is_an_outlier_only_outside_the_funnel_limits() {
    // Every district 100 a month, Chorley 150; per 1,000 people.
    let mut pts = Vec::new();
    for i in 0..24 {
        let m = safer::evaluation::periods::month_from_index(2023 * 12 + 3 + i);
        for d in safer::geography::DISTRICTS.iter() {
            pts.push(Point {
                month: m,
                area_code: d.code.into(),
                numerator: if d.code == CHORLEY { 150.0 } else { 100.0 },
                denominator: None,
            });
        }
    }
    let ind = indicator(&[
        ("unit", "rate per 1,000"),
        ("denominator", "all people"),
        ("polarity", "lower is better"),
    ]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let rows = evaluate(&ind, &spec, &pts, &context());
    let label = "12 months to Mar 2025";
    let county = find(&rows, "E10000017", "rolling_12_months", label);
    // Lancashire-12 over the year: 11 x 1,200 + 1,800 = 15,000 among
    // 1,252,000 people in mid-2024 (Preston 152,000, the others 100,000).
    assert!((county.value.unwrap() - 15_000.0 / 1_252_000.0 * 1_000.0).abs() < 1e-9);
    let twelve: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| {
            r.area_level == "district"
                && r.period_type.name() == "rolling_12_months"
                && r.period_label == label
        })
        .filter(|r| {
            safer::geography::district_by_code(&r.area_code).is_some_and(|d| {
                safer::geography::Crosswalk::ancestors(d)
                    .iter()
                    .any(|a| a.code == "E10000017")
            })
        })
        .collect();
    assert_eq!(twelve.len(), 12);
    // Chorley: expected 11.98 x 100 = 1,198.1, observed 1,800, z = 17.4: an
    // outlier. Preston: expected 1,821, observed 1,200, z = -14.5: better,
    // so not one when lower is better. The rest: z = 0.06.
    let out = safer::outputs::funnel_outliers(&twelve, county, spec.polarity);
    let names: Vec<&str> = out.iter().map(|r| r.area_code.as_str()).collect();
    assert_eq!(names, [CHORLEY]);
    let out = safer::outputs::funnel_outliers(
        &twelve,
        county,
        safer::evaluation::spc::Polarity::HigherIsBetter,
    );
    let names: Vec<&str> = out.iter().map(|r| r.area_code.as_str()).collect();
    assert_eq!(names, [PRESTON]);
}

/// No events at all, over a covered stretch: zeros for those months only.
#[test]
fn an_indicator_with_no_events_is_zeros_over_its_coverage() {
    let ind = indicator(&[("polarity", "lower is better")]);
    let spec = Spec::from_indicator(&ind).unwrap();
    let mut ctx = context();
    ctx.coverage.insert("test".into(), (d(2024, 4), d(2025, 3)));
    let rows = evaluate(&ind, &spec, &[], &ctx);
    let fy = find(&rows, "E10000017", "financial_year", "2024-25");
    assert_eq!((fy.complete, fy.value), (true, Some(0.0)));
    // Twelve months per area, none before the coverage.
    assert!(
        rows.iter()
            .all(|r| r.period_start >= d(2024, 4) || !r.complete)
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.area_code == PRESTON && r.period_type.name() == "month")
            .count(),
        12
    );
}
