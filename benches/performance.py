#!/usr/bin/env python3
"""Regenerate the measured part of docs/performance.md from one harness run
at both scales: the peer benchmark (../shared/bench/run_bench.py) with DuckDB
and `safer bench --data` side by side, county then national, in one go.

    python3 benches/performance.py --bench ../shared/bench \
        --county DATA_COUNTY --national DATA_NATIONAL \
        [--bin target/release/safer] [--runs-county 3] [--runs-national 2]

The data folders are made by the benchmark's generator (its README gives
the commands). The script replaces what lies between the markers
`<!-- harness:start -->` and `<!-- harness:end -->` in docs/performance.md
with the machine, the two summary tables and the ratios against the goals,
and leaves the rest of the page (the history of fixes) as it is. Run it
on an otherwise idle machine; only ratios within one run mean anything.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "performance.md")
START, END = "<!-- harness:start -->", "<!-- harness:end -->"


NIGHTLY = os.path.join(ROOT, "benches", "nightly.py")


def harness(bench: str, python: str, data: str, work: str, runs: int, binary: str,
            project: str | None = None) -> str:
    """One harness run. With `project` (a ten-year demo project), the
    nightly costs join the same run: a full police.uk rebuild, one new
    month into the ten-year lake, and `safer run` with no new data."""
    cmd = [python, os.path.join(bench, "run_bench.py"), "--data", data, "--work", work,
           "--runs", str(runs), "--peers", "duckdb",
           "--cmd", f"safer={binary} bench --data {{data}} --out {{out}} "
                    f"--queries {os.path.join(bench, 'queries')}"]
    if project:
        me = sys.executable
        cmd += ["--cmd", f"rebuild={me} {NIGHTLY} rebuild --bin {binary} --data {{data}} --out {{out}}",
                "--cmd", f"one-month={me} {NIGHTLY} one-month --bin {binary} --data {{data}} --out {{out}}",
                "--cmd", f"no-data={me} {NIGHTLY} no-data --bin {binary} --project {project} "
                         f"--out {{out}}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(work, "summary.md")) as f:
        return f.read()


def ratios(work: str) -> dict:
    """safer's median total, queries and peak RSS (measured from outside)
    over DuckDB's, from the harness's runs.jsonl."""
    runs: dict[str, list[dict]] = {}
    with open(os.path.join(work, "runs.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            runs.setdefault(r["peer"], []).append(r)

    def med(peer: str, get) -> float:
        return statistics.median(get(r) for r in runs[peer])

    getters = {
        "total_s": lambda r: r["total_s"],
        "queries_s": lambda r: r["stages"]["queries_s"],
        "peak_rss_mib": lambda r: r["process_peak_rss_mib"],
    }
    out = {k: med("safer", g) / med("duckdb", g) for k, g in getters.items()}
    if "rebuild" in runs:
        out["one_month_of_rebuild"] = med("one-month", getters["total_s"]) / med(
            "rebuild", getters["total_s"])
        out["no_data_run_of_duckdb"] = med("no-data", getters["total_s"]) / med(
            "duckdb", getters["total_s"])
    out["profile"] = {k: med("safer", lambda r, k=k: r.get("ingest_profile", {}).get(k, 0.0))
                      for k in ("fingerprint_s", "parse_cpu_s", "encode_cpu_s", "commit_s")}
    out["queries"] = {q: med("safer", lambda r, q=q: r["queries"][q]["s"])
                      for q in runs["safer"][0]["queries"]}
    out["stages"] = {k: med("safer", lambda r, k=k: r["stages"][k])
                     for k in runs["safer"][0]["stages"]}
    return out


def profile_table(r: dict) -> str:
    """Where safer's time went in its peer job (medians): the street
    files' ingest split into its parts, then each query and the workbook."""
    p, st = r["profile"], r["stages"]
    rows = [("ingest: hashing the inputs (wall)", p["fingerprint_s"]),
            ("ingest: reading, CSV parse, checks, Arrow columns (CPU seconds)",
             p["parse_cpu_s"]),
            ("ingest: Parquet encode and write (CPU seconds)", p["encode_cpu_s"]),
            ("ingest: close, fsync, Delta commit (wall)", p["commit_s"]),
            ("ingest: whole stage (wall)", st.get("ingest_s", 0.0)),
            ("lookups (wall)", st.get("lookups_s", 0.0))]
    rows += [(f"query {q}", s) for q, s in sorted(r["queries"].items())]
    rows += [("workbook (wall)", st.get("xlsx_s", 0.0))]
    lines = ["| where safer's time went | s |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--county", required=True)
    ap.add_argument("--national", required=True)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "safer"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--work", default="/tmp/safer-performance")
    ap.add_argument("--runs-county", type=int, default=3)
    ap.add_argument("--runs-national", type=int, default=2)
    ap.add_argument("--project-years", type=int, default=10,
                    help="years of the demo project for the no-data nightly run (0: skip the "
                         "nightly costs)")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                      capture_output=True, text=True).stdout.strip():
        commit += " with uncommitted changes"
    sections = []
    project = None
    if a.project_years:
        # The nightly run's project: the demo county over ten years, run
        # once (not timed) so that the timed runs find no new data.
        project = os.path.join(a.work, "nightly-project")
        subprocess.run([binary, "demo", "--dir", project, "--years", str(a.project_years)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for name, data, runs in (("County", a.county, a.runs_county),
                             ("National", a.national, a.runs_national)):
        work = os.path.join(a.work, name.lower())
        summary = harness(a.bench, a.python, os.path.abspath(data), work, runs, binary,
                          project if name == "County" else None)
        r = ratios(work)
        text = (f"### {name}\n\n{summary.strip()}\n\n"
                f"safer / DuckDB: total {r['total_s']:.2f}x, queries {r['queries_s']:.2f}x, "
                f"peak RSS {r['peak_rss_mib']:.2f}x.\n")
        if "one_month_of_rebuild" in r:
            text += (f"\nNightly cost: one new month into the ten-year lake took "
                     f"{r['one_month_of_rebuild']:.0%} of a full police.uk rebuild (goal: at most "
                     f"10%); a `safer run` with no new data ({a.project_years}-year demo project: "
                     f"every indicator, the evaluation, workbooks, HTML and PDF packs) took "
                     f"{r['no_data_run_of_duckdb']:.2f}x DuckDB's whole peer job (goal: under "
                     f"1.0x).\n")
        text += "\n" + profile_table(r)
        sections.append(text)
    block = (f"{START}\n## Latest harness run ({dt.date.today().isoformat()}, commit {commit})\n\n"
             "Generated by `benches/performance.py`: one run of the peer harness at both scales, "
             "DuckDB and `safer bench --data` side by side, medians. Goals: total 0.8x DuckDB at "
             "both scales, queries 1.0x and peak RSS 0.5x at national scale; one new month at most "
             "10% of a rebuild and a nightly run with no new data quicker than DuckDB's county "
             "job, both in the county run.\n\n"
             + "\n".join(sections) + f"{END}")
    with open(PAGE) as f:
        page = f.read()
    if START in page and END in page:
        page = page[:page.index(START)] + block + page[page.index(END) + len(END):]
    else:
        page = page.rstrip() + "\n\n" + block + "\n"
    with open(PAGE, "w") as f:
        f.write(page)
    print(block)


if __name__ == "__main__":
    main()
