#!/usr/bin/env python3
"""The same job as `safer bench`, done by DuckDB, for docs/performance.md.

police.uk street CSVs -> Parquet (zstd, one file per year) with a declared
schema, then the ten queries of src/bench.rs. Run after `safer bench` has
generated the data:

    python3 benches/duckdb_compare.py bench-data [repeats]

Needs `pip install duckdb`. Not part of CI.
"""
import shutil
import sys
import time
from pathlib import Path

import duckdb

QUERIES = [
    "SELECT month, substr(lsoa_name, 1, length(lsoa_name) - 5) AS area_code, COUNT(*) AS numerator FROM p WHERE crime_type <> 'Anti-social behaviour' GROUP BY 1, 2",
    "SELECT month, substr(lsoa_name, 1, length(lsoa_name) - 5) AS area_code, COUNT(*) AS numerator FROM p WHERE crime_type = 'Anti-social behaviour' GROUP BY 1, 2",
    "SELECT month, substr(lsoa_name, 1, length(lsoa_name) - 5) AS area_code, COUNT(*) AS numerator FROM p WHERE crime_type = 'Violence and sexual offences' GROUP BY 1, 2",
    "SELECT month, substr(lsoa_name, 1, length(lsoa_name) - 5) AS area_code, COUNT(*) AS numerator FROM p WHERE crime_type = 'Burglary' GROUP BY 1, 2",
    "SELECT month, substr(lsoa_name, 1, length(lsoa_name) - 5) AS area_code, COUNT(*) AS numerator FROM p WHERE crime_type = 'Possession of weapons' GROUP BY 1, 2",
    "SELECT month, substr(lsoa_name, 1, length(lsoa_name) - 5) AS area_code, COUNT(*) AS numerator FROM p WHERE crime_type = 'Drugs' GROUP BY 1, 2",
    "SELECT month, 'force' AS area_code, SUM(CASE WHEN last_outcome_category = 'Investigation complete; no suspect identified' THEN 1 ELSE 0 END) AS numerator, COUNT(*) AS denominator FROM p WHERE crime_id IS NOT NULL GROUP BY 1",
    "SELECT month, 'force' AS area_code, COUNT(*) AS numerator FROM p WHERE lsoa_code IS NULL GROUP BY 1",
    "SELECT month, 'force' AS area_code, SUM(n) OVER (ORDER BY month ROWS BETWEEN 11 PRECEDING AND CURRENT ROW) AS numerator FROM (SELECT month, COUNT(*) AS n FROM p GROUP BY month)",
    "SELECT month, lsoa_code AS area_code, COUNT(*) AS numerator FROM p WHERE month = (SELECT MAX(month) FROM p) AND lsoa_code IS NOT NULL GROUP BY 1, 2 ORDER BY numerator DESC LIMIT 50",
]

COLUMNS = {
    "Crime ID": "VARCHAR", "Month": "VARCHAR", "Reported by": "VARCHAR",
    "Falls within": "VARCHAR", "Longitude": "DOUBLE", "Latitude": "DOUBLE",
    "Location": "VARCHAR", "LSOA code": "VARCHAR", "LSOA name": "VARCHAR",
    "Crime type": "VARCHAR", "Last outcome category": "VARCHAR", "Context": "VARCHAR",
}


def run(root: Path) -> tuple[float, float]:
    out = root / "duckdb-work"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    cols = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
    t = time.perf_counter()
    con.execute(f"""
        COPY (
          SELECT "Crime ID" AS crime_id,
                 CAST(strptime("Month" || '-01', '%Y-%m-%d') AS DATE) AS month,
                 "Reported by" AS reported_by, "Falls within" AS falls_within,
                 "Longitude" AS longitude, "Latitude" AS latitude, "Location" AS location,
                 "LSOA code" AS lsoa_code, "LSOA name" AS lsoa_name, "Crime type" AS crime_type,
                 "Last outcome category" AS last_outcome_category, "Context" AS context,
                 year(CAST(strptime("Month" || '-01', '%Y-%m-%d') AS DATE)) AS year
          FROM read_csv('{root}/data/police-uk/*/*-street.csv', header = true, columns = {{{cols}}})
        ) TO '{out}/lake' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year))
    """)
    ingest = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{out}/lake/*/*.parquet')")
    for q in QUERIES:
        con.execute(q).fetchall()
    queries = time.perf_counter() - t
    return ingest, queries


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-data").resolve()
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"duckdb {duckdb.__version__}")
    for i in range(repeats):
        ingest, queries = run(root)
        print(f"run {i + 1}: ingest {ingest:.3f}s queries {queries:.3f}s total {ingest + queries:.3f}s")


if __name__ == "__main__":
    main()
