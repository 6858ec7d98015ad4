"""Date parsing of the ingest: dd/mm/yyyy (the Colombian exports' format) against ISO dates.

The validation casts each date column with ``validate.parse_expr``; day-first dates used to go through
two or three failing casts/formats per value (17–21× the ISO time). Measures both shapes, side by side
in one DuckDB connection (1 thread, best of 5), on the same dates, and checks they parse to the same
values. Ends with one JSON line.

    .venv/bin/python benchmarks/bench_date_parse.py [--rows 4000000]
"""

from __future__ import annotations

import argparse
import json
import time

import duckdb

from gridcrit.data.validate import parse_expr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4_000_000)
    args = ap.parse_args()
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute(
        "CREATE TABLE d AS SELECT strftime(TIMESTAMP '2019-01-31 00:00' + to_minutes((i * 37) % 2000000), "
        "'%d/%m/%Y %H:%M:%S') AS dmy, strftime(TIMESTAMP '2019-01-31 00:00' + to_minutes((i * 37) % 2000000), "
        f"'%Y-%m-%d %H:%M:%S') AS iso FROM range({args.rows}) t(i)")
    same = con.execute(f"SELECT count(*) FROM d WHERE {parse_expr('dmy', 'VARCHAR', 'TIMESTAMP')} IS DISTINCT "
                       "FROM iso::TIMESTAMP").fetchone()[0]

    def best(col: str) -> float:
        out = 1e9
        for _ in range(5):
            t = time.perf_counter()
            con.execute(f"SELECT count({parse_expr(col, 'VARCHAR', 'TIMESTAMP')}) FROM d").fetchone()
            out = min(out, time.perf_counter() - t)
        return out

    iso, dmy = best("iso"), best("dmy")
    print(f"DuckDB {duckdb.__version__}, 1 thread, {args.rows:,} date-times, best of 5")
    print(f"ISO yyyy-mm-dd hh:mm:ss  {iso:7.3f} s")
    print(f"dd/mm/yyyy hh:mm:ss      {dmy:7.3f} s   ratio {dmy / iso:.2f}x   values differing: {same}")
    print(json.dumps({"rows": args.rows, "threads": 1, "iso_s": round(iso, 4), "dmy_s": round(dmy, 4),
                      "ratio": round(dmy / iso, 3), "differing": int(same)}))


if __name__ == "__main__":
    main()
