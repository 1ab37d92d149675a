//! `safer bench --data`: the peer benchmark's job (issue 11) on a tiny
//! hand-written delivery, with every figure worked out by hand.

use calamine::{Data, Reader, Xlsx, open_workbook};

const HEADER: &str = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n";

fn row(month: &str, lsoa: &str, crime: &str, outcome: &str) -> String {
    format!(
        "{:032x}{:032x},{month},Test Police,Test Police,-2.7,53.7,On or near High Road,{lsoa},{lsoa} name,{crime},{outcome},\n",
        fastrand::u128(..),
        fastrand::u128(..)
    )
}

#[test]
fn the_peer_job_lands_queries_and_writes_one_workbook() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (month, rows) in [
        (
            "2024-01",
            vec![
                row("2024-01", "E01000001", "Burglary", "Under investigation"),
                row("2024-01", "E01000001", "Anti-social behaviour", ""),
                row("2024-01", "E01000002", "Drugs", "Under investigation"),
            ],
        ),
        (
            "2024-02",
            vec![
                row("2024-02", "E01000002", "Burglary", "Under investigation"),
                row("2024-02", "E01000002", "Burglary", "Under investigation"),
            ],
        ),
    ] {
        let dir = data.join(month);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{month}-test-street.csv")),
            format!("{HEADER}{}", rows.concat()),
        )
        .unwrap();
    }
    std::fs::create_dir_all(data.join("lookups")).unwrap();
    std::fs::write(
        data.join("lookups/lsoa_district.csv"),
        "lsoa_code,district\nE01000001,Alpha\nE01000002,Beta\n",
    )
    .unwrap();
    std::fs::write(
        data.join("lookups/population.csv"),
        "district,year,population\nAlpha,2024,1000\nBeta,2024,4000\n",
    )
    .unwrap();
    let queries = tmp.path().join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    std::fs::write(
        queries.join("01_crimes_per_1000.sql"),
        "SELECT d.district, count(*) AS crimes, CAST(count(*) AS DOUBLE) * 1000 / CAST(p.population AS DOUBLE) AS rate\n\
         FROM police_uk_street AS s\n\
         JOIN lsoa_district AS d ON d.lsoa_code = s.lsoa_code\n\
         JOIN population AS p ON p.district = d.district AND p.year = 2024\n\
         WHERE s.crime_type <> 'Anti-social behaviour'\n\
         GROUP BY d.district, p.population\n\
         ORDER BY d.district\n",
    )
    .unwrap();
    std::fs::write(
        queries.join("02_months.sql"),
        "SELECT month, count(*) AS n FROM police_uk_street GROUP BY month ORDER BY month",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, err) = crate::project::safer(
        &[
            "bench",
            "--data",
            data.to_str().unwrap(),
            "--queries",
            queries.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "{stdout}\n{err}");
    let line: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(line["rows"], 5);
    assert_eq!(line["quarantined"], 0);
    for stage in ["ingest_s", "lookups_s", "queries_s", "xlsx_s"] {
        assert!(line["stages"][stage].as_f64().is_some(), "{stage}: {line}");
    }
    let total = line["total_s"].as_f64().unwrap();
    let stages: f64 = ["ingest_s", "lookups_s", "queries_s", "xlsx_s"]
        .iter()
        .map(|s| line["stages"][s].as_f64().unwrap())
        .sum();
    assert!(total >= stages * 0.99, "{total} < {stages}");
    assert_eq!(line["queries"]["01_crimes_per_1000"]["rows"], 2);
    assert_eq!(line["queries"]["02_months"]["rows"], 2);
    assert_eq!(
        line["queries"]["02_months"]["fingerprint"]
            .as_str()
            .unwrap()
            .len(),
        16
    );

    // The workbook: an about sheet, then one sheet per query in file
    // order. Alpha: one burglary (the ASB row is left out) per 1,000 people
    // is 1.0; Beta: three crimes in 4,000 people is 0.75 per 1,000.
    let mut wb: Xlsx<_> = open_workbook(out.join("results.xlsx")).unwrap();
    assert_eq!(
        wb.sheet_names(),
        vec!["about", "01_crimes_per_1000", "02_months"]
    );
    let rates = wb.worksheet_range("01_crimes_per_1000").unwrap();
    let cells: Vec<Vec<Data>> = rates.rows().map(|r| r.to_vec()).collect();
    assert_eq!(
        cells,
        vec![
            vec![
                Data::String("district".into()),
                Data::String("crimes".into()),
                Data::String("rate".into())
            ],
            vec![
                Data::String("Alpha".into()),
                Data::Float(1.0),
                Data::Float(1.0)
            ],
            vec![
                Data::String("Beta".into()),
                Data::Float(3.0),
                Data::Float(0.75)
            ],
        ]
    );
    let months = wb.worksheet_range("02_months").unwrap();
    assert!(matches!(months.get((1, 0)), Some(Data::DateTime(_))));
    assert_eq!(months.get((1, 1)), Some(&Data::Float(3.0)));
    assert_eq!(months.get((2, 1)), Some(&Data::Float(2.0)));
}
