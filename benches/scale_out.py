#!/usr/bin/env python3
"""The peer benchmark's ten queries, in-process and on a Ballista cluster
(one scheduler and two executors on this machine), for docs/scale-out.md.

Lands the police.uk files and the two lookups once with the safer binary
(`import`, as ../shared/bench/peer_safer_cli.py does), then runs every query
through `safer sql --format json` in fresh processes, alternating the two
engines round by round so that both see the same machine. Prints a markdown
table of median seconds per query and checks that both engines' answers
have the same fingerprint (the harness's `common.fingerprint`).

    python3 benches/scale_out.py --bin target/release/safer \
        --bench ../shared/bench --data DATA --work WORK [--rounds 3] [--land]

Not part of CI: the national data is 5 GiB.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time


def run(cmd: list[str], cwd: str | None = None) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        sys.exit(f"FAILED {' '.join(cmd[:4])}: rc={p.returncode}\n{p.stderr[-3000:]}")
    return p.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--bench", required=True, help="the peer benchmark folder (common.py, queries/)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--land", action="store_true", help="land the data again")
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.bench))
    import common  # noqa: E402

    binary = os.path.abspath(a.bin)
    work = os.path.abspath(a.work)
    lake = os.path.join(work, "lake")
    if a.land or not os.path.isdir(lake):
        shutil.rmtree(lake, ignore_errors=True)
        os.makedirs(work, exist_ok=True)
        t = time.perf_counter()
        run([binary, "import", "police-uk", a.data, "--lake", lake])
        lk = os.path.join(a.data, "lookups")
        run([binary, "import", "csv", os.path.join(lk, "lsoa_district.csv"), "--lake", lake,
             "--table", "lsoa_district", "--columns", "lsoa_code!:string,district:string"])
        run([binary, "import", "csv", os.path.join(lk, "population.csv"), "--lake", lake,
             "--table", "population", "--columns", "district!:string,year:int,population:int"])
        print(f"landed in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    parquet = sum(
        os.path.getsize(os.path.join(d, f))
        for d, _, fs in os.walk(lake) for f in fs if f.endswith(".parquet")
    )

    port = free_port()
    procs = [subprocess.Popen([binary, "scheduler", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    wait_port(port)
    for i in range(2):
        flight, grpc = free_port(), free_port()
        procs.append(subprocess.Popen(
            [binary, "executor", "--scheduler", f"127.0.0.1:{port}", "--flight-port", str(flight),
             "--grpc-port", str(grpc), "--slots", "1", "--memory-mib", "4096",
             "--work-dir", os.path.join(work, f"executor-{i}")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(grpc)
    modes = {"in-process": "in-process", "ballista": f"ballista://127.0.0.1:{port}"}
    for mode, engine in modes.items():
        d = os.path.join(work, mode)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "safer.toml"), "w") as f:
            f.write(f'engine = "{engine}"\n[organisation]\nname = "Bench"\n[paths]\nlake = "{lake}"\n'
                    '[limits]\nquery_memory_mib = 4096\nquery_timeout_secs = 600\n')
    time.sleep(2)
    try:
        queries = common.load_queries(os.path.join(a.bench, "queries"))
        times = {m: {n: [] for n, _ in queries} for m in modes}
        prints = {m: {} for m in modes}
        for _ in range(a.rounds):
            for mode in modes:
                d = os.path.join(work, mode)
                for name, sql in queries:
                    t = time.perf_counter()
                    out = run([binary, "sql", "--format", "json", "--", sql], cwd=d)
                    times[mode][name].append(time.perf_counter() - t)
                    rows = json.loads(out) if out.strip() else []
                    cols = list(max(rows, key=len).keys()) if rows else []
                    prints[mode][name] = (len(rows), common.fingerprint(
                        [tuple(r.get(c) for c in cols) for r in rows]))
    finally:
        for p in procs:
            p.kill()
    print(f"Parquet in the lake: {parquet / 2**30:.2f} GiB; {a.rounds} rounds, medians\n")
    print("| query | in-process (s) | Ballista, 1 scheduler + 2 executors (s) | ratio | same answer |")
    print("|---|---|---|---|---|")
    tot = {m: 0.0 for m in modes}
    for name, _ in queries:
        med = {m: statistics.median(times[m][name]) for m in modes}
        for m in modes:
            tot[m] += med[m]
        same = prints["in-process"][name] == prints["ballista"][name]
        print(f"| {name} | {med['in-process']:.2f} | {med['ballista']:.2f} | "
              f"{med['ballista'] / med['in-process']:.2f} | {'yes' if same else 'NO'} |")
    print(f"| **all ten** | **{tot['in-process']:.2f}** | **{tot['ballista']:.2f}** | "
          f"**{tot['ballista'] / tot['in-process']:.2f}** | |")
    if any(prints["in-process"][n] != prints["ballista"][n] for n, _ in queries):
        sys.exit("answers differ")


if __name__ == "__main__":
    main()
