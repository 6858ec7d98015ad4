"""What data a model saw: a fingerprint of the store and of the dataset rows it was trained on.

``store_fingerprint`` records, for every utility table, its row count, an order-independent content
hash (sum of DuckDB row hashes) and the time span it covers. ``dataset_fingerprint`` records the
periods and rows of the training frame. Both go into the registry with every version, so a later
reader can tell whether two models were trained on the same data and which periods a champion has
never seen (what retraining evaluates on).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from gridcrit.data.schema import TABLES

# the column that places a row in time, per table
TIME_COLUMN = {"interrupciones": "inicio", "redmt": "FECHA", "trafos": "FECHA", "switches": "FECHA",
               "apoyos": "FECHA", "rayos": "FECHA", "vegetacion": "FECHA", "clima": "FECHA"}


def store_fingerprint(store: str | Path) -> dict[str, Any]:
    """Rows, content hash and time span of every utility table in ``store``."""
    from gridcrit.data.store import connect

    con = connect(store, read_only=True)
    try:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        out: dict[str, Any] = {}
        for name in TABLES:
            if name not in present:
                continue
            tcol = TIME_COLUMN.get(name)
            q = (f'SELECT count(*), CAST(coalesce(sum(hash(t)::HUGEINT), 0) AS VARCHAR), '
                 f'CAST(min("{tcol}") AS VARCHAR), CAST(max("{tcol}") AS VARCHAR) FROM "{name}" t')
            n, h, first, last = con.execute(q).fetchall()[0]
            out[name] = {"rows": int(n), "hash": hashlib.sha256(h.encode()).hexdigest()[:16],
                         "first": first, "last": last}
        return out
    finally:
        con.close()


def period_labels(s: pd.Series) -> pd.Series:
    """Period column as sortable strings ('YYYY-MM' / 'YYYY-Qn')."""
    return s.astype(str)


def dataset_fingerprint(frame: pd.DataFrame, period_column: str = "period") -> dict[str, Any]:
    """Periods covered and rows of a dataset frame, plus a hash of its content."""
    periods = sorted(period_labels(frame[period_column]).unique())
    h = pd.util.hash_pandas_object(frame, index=False).sum()
    return {"rows": len(frame), "periods": {"first": periods[0] if periods else None,
                                             "last": periods[-1] if periods else None, "n": len(periods)},
            "hash": f"{int(h) & ((1 << 64) - 1):016x}"}


def fingerprint(store: str | Path, frame: pd.DataFrame, period_column: str = "period") -> dict[str, Any]:
    """Store tables + the training frame (what ``Registry.register`` stores as ``data_fingerprint``)."""
    return {"tables": store_fingerprint(store), "dataset": dataset_fingerprint(frame, period_column),
            "periods": dataset_fingerprint(frame, period_column)["periods"]}


def feature_schema(frame: pd.DataFrame, columns: list[str], groups: dict[str, str] | None = None) -> dict[str, Any]:
    """Feature columns in model order, with their dtypes (and groups when known)."""
    return {"columns": list(columns), "dtypes": {c: str(frame[c].dtype) for c in columns},
            "groups": {c: groups[c] for c in columns if c in groups} if groups else {}}
