#!/usr/bin/env python3
"""The incremental nightly cost, as commands the peer harness can run beside
DuckDB (`run_bench.py --cmd NAME=TEMPLATE`), so the ratios come from one
harness run:

    nightly.py rebuild   --bin SAFER --data DATA --out OUT
        land every month of the police.uk street files into an empty lake
        (`safer import police-uk`): the full rebuild.
    nightly.py one-month --bin SAFER --data DATA --out OUT
        land every month but the last (not timed), then land the whole
        delivery again, which finds one new month among unchanged files:
        what a nightly run pays when police.uk publishes a month.
    nightly.py no-data   --bin SAFER --project DIR --out OUT
        `safer run` on a project whose data has not changed since its last
        run: every source checked, all indicators, the evaluation, the
        workbooks, the HTML and the PDF packs.

Each prints the harness's JSON line: `total_s` (the timed part, wall clock,
process start-up included), `stages` and an empty `queries`. The times are
of whole `safer` processes, as cron or `safer serve` would start them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time


def month_dirs(data: str) -> list[str]:
    """The `YYYY-MM` folders of a police.uk delivery, oldest first."""
    return sorted(os.path.join(data, d) for d in os.listdir(data)
                  if re.fullmatch(r"\d{4}-\d{2}", d))


def link_month(month: str, delivery: str) -> None:
    dest = os.path.join(delivery, os.path.basename(month))
    os.makedirs(dest, exist_ok=True)
    for f in os.listdir(month):
        os.link(os.path.join(month, f), os.path.join(dest, f))


def run(cmd: list[str], cwd: str | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    s = time.perf_counter() - t
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"{' '.join(cmd[:3])} ... exited {p.returncode}")
    return s, p.stdout + p.stderr


def landed(output: str) -> int:
    """Files landed, from `safer import`'s summary line."""
    m = re.search(r"(\d+) (?:files? )?landed", output)
    return int(m.group(1)) if m else -1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["rebuild", "one-month", "no-data"])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data")
    ap.add_argument("--project")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    out = os.path.abspath(a.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    stages: dict[str, float] = {}
    extra: dict[str, object] = {}
    if a.mode in ("rebuild", "one-month"):
        months = month_dirs(a.data)
        lake = os.path.join(out, "lake")
        # The delivery folder as a nightly fetch leaves it: the months so
        # far, then the new one beside them (hard links: same files, same
        # modification times, nothing copied).
        delivery = os.path.join(out, "delivery")
        imp = [binary, "import", "police-uk", delivery, "--lake", lake]
        for m in months[:-1] if a.mode == "one-month" else months:
            link_month(m, delivery)
        if a.mode == "one-month":
            run(imp)
            link_month(months[-1], delivery)
        s, text = run(imp)
        stages["ingest_s"] = s
        extra["files_landed"] = landed(text)
        extra["months"] = len(months)
    else:
        project = os.path.abspath(a.project)
        s, _ = run([binary, "run"], cwd=project)
        stages["run_s"] = s
    print(json.dumps({"peer": a.mode, "total_s": sum(stages.values()), "stages": stages,
                      "queries": {}, **extra}))


if __name__ == "__main__":
    main()
