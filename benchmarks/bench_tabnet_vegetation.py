"""Real data: CHEC's vegetation risk level (NIVEL_RIES Alto/Medio/Bajo), TabNet vs XGBoost vs LightGBM.

Data: ``../shared/data/chec/VegetacionExistente.csv`` normalised by
:func:`gridcrit.data.real.load_vegetation` (placeholders → missing, spelling variants merged,
Inminente → Alto, Potencial → Bajo, No aplica → dropped). Node ids ``NODO_1/NODO_2`` are
identifiers and never features. Features: categorical NOM_COMUN, TIPO_VEGET, ESTADO_INICIAL,
LADO_RED, TIPO_INTER, DEP, MUN, CIRCUITO_TRAMO; numeric DAP_ESTIM, LONG_INTER, LONGITUD, LATITUD,
month of FECHA. The *reduced* set drops ESTADO_INICIAL, TIPO_INTER and LONG_INTER (recorded with or
after the risk judgement).

Splits (test = 20 %; 15 % of the training part is the validation set for early stopping):

* ``random``: stratified random split, seeds 0/1/2;
* ``time``: the latest 20 % of records by FECHA are the test set (one split);
* ``circuit``: whole circuits (CIRCUITO_TRAMO groups) held out, seeds 0/1/2, circuit id dropped.

Metric: macro-F1 on the test set (mean over seeds). All models single-threaded (n_jobs=1, torch 1
thread). ``--quick``: one seed per split, fewer epochs/trees. Ends with one JSON line.

    .venv/bin/python benchmarks/bench_tabnet_vegetation.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from gridcrit.models.tabnet import TabNetClassifier

CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chec" / "VegetacionExistente.csv"
CATS = ["NOM_COMUN", "TIPO_VEGET", "ESTADO_INICIAL", "LADO_RED", "TIPO_INTER", "DEP", "MUN", "CIRCUITO_TRAMO"]
NUMS = ["DAP_ESTIM", "LONG_INTER", "LONGITUD", "LATITUD", "MES"]
LATE = ["ESTADO_INICIAL", "TIPO_INTER", "LONG_INTER"]
CLASSES = ["Alto", "Medio", "Bajo"]


def load() -> pd.DataFrame:
    try:
        from gridcrit.data.real import load_vegetation

        df, _ = load_vegetation(CSV)
    except ImportError:  # pragma: no cover - data module not present
        df = pd.read_csv(CSV)
        df["NIVEL_RIES"] = df["NIVEL_RIES"].replace({"Inminente": "Alto", "Potencial": "Bajo", "No aplica": None})
    df = df[df["NIVEL_RIES"].isin(CLASSES)].reset_index(drop=True)
    df["FECHA"] = pd.to_datetime(df["FECHA"], errors="coerce")
    df["MES"] = df["FECHA"].dt.month.astype("float64")
    for c in CATS:
        df[c] = df[c].astype("object").where(df[c].notna(), None)
    return df


def features(df: pd.DataFrame, reduced: bool, drop_circuit: bool) -> pd.DataFrame:
    cols = [c for c in CATS + NUMS if not (reduced and c in LATE) and not (drop_circuit and c == "CIRCUITO_TRAMO")]
    X = df[cols].copy()
    for c in cols:
        if c in NUMS:
            X[c] = pd.to_numeric(X[c], errors="coerce").astype("float64")
        else:
            X[c] = X[c].astype(str).where(X[c].notna(), None)
    return X


def splits(df: pd.DataFrame, kind: str, seeds: list[int]):
    y = df["NIVEL_RIES"].to_numpy()
    idx = np.arange(len(df))
    if kind == "random":
        for s in seeds:
            tr, te = train_test_split(idx, test_size=0.2, stratify=y, random_state=s)
            yield s, tr, te
    elif kind == "time":
        order = np.argsort(df["FECHA"].to_numpy(), kind="stable")
        cut = int(len(order) * 0.8)
        yield 0, order[:cut], order[cut:]
    else:
        groups = df["CIRCUITO_TRAMO"].fillna("?").to_numpy()
        for s in seeds:
            tr, te = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=s).split(idx, y, groups))
            yield s, tr, te


def as_category(X: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """pandas category dtype with the training categories (for XGBoost / LightGBM)."""
    out = X.copy()
    for c in X.columns:
        if X[c].dtype == object or str(X[c].dtype).startswith("str"):
            cats = sorted(ref[c].dropna().unique().tolist())
            known = X[c].where(X[c].isin(cats))  # unseen categories → missing (as TabNet's code 0)
            out[c] = pd.Categorical(known, categories=cats)
    return out


TABNET = {"n_d": 16, "n_a": 16, "n_steps": 3, "gamma": 1.5, "lambda_sparse": 1e-4, "cat_emb_dim": 4,
          "batch_size": 1024, "virtual_batch_size": 128, "lr": 0.02, "lr_schedule": "onecycle",
          "eval_metric": "macro_f1", "class_weight": None, "mask_type": "entmax"}


def fit_predict(model: str, Xtr, ytr, Xva, yva, Xte, seed: int, quick: bool) -> np.ndarray:
    if model == "tabnet":
        clf = TabNetClassifier(**TABNET, max_epochs=40 if quick else 80, patience=40 if quick else 25,
                               seed=seed, n_threads=1)
        clf.fit(Xtr, ytr, eval_set=[(Xva, yva)])
        return clf.predict(Xte)
    lab = {c: i for i, c in enumerate(CLASSES)}
    ytr_i = np.array([lab[v] for v in ytr])
    yva_i = np.array([lab[v] for v in yva])
    Ctr, Cva, Cte = as_category(Xtr, Xtr), as_category(Xva, Xtr), as_category(Xte, Xtr)
    n_est = 300 if quick else 1000
    if model == "xgboost":
        import xgboost as xgb

        m = xgb.XGBClassifier(n_estimators=n_est, learning_rate=0.05, max_depth=6, tree_method="hist",
                              enable_categorical=True, max_cat_to_onehot=1, n_jobs=1, random_state=seed,
                              early_stopping_rounds=50, eval_metric="mlogloss")
        m.fit(Ctr, ytr_i, eval_set=[(Cva, yva_i)], verbose=False)
    else:
        import lightgbm as lgb

        m = lgb.LGBMClassifier(n_estimators=n_est, learning_rate=0.05, num_leaves=31, n_jobs=1, random_state=seed,
                               verbose=-1)
        m.fit(Ctr, ytr_i, eval_set=[(Cva, yva_i)], callbacks=[lgb.early_stopping(50, verbose=False)])
    return np.array(CLASSES)[m.predict(Cte).astype(int)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", default="tabnet,xgboost,lightgbm")
    ap.add_argument("--tabnet", default="{}", help="JSON overrides of the TabNet settings")
    ap.add_argument("--splits", default="random,time,circuit")
    args = ap.parse_args()
    TABNET.update(json.loads(args.tabnet))
    seeds = [0] if args.quick else [0, 1, 2]
    df = load()
    print(f"rows {len(df)} classes {df['NIVEL_RIES'].value_counts().to_dict()} load {os.getloadavg()[0]:.1f}", flush=True)
    models = args.models.split(",")
    results: dict = {}
    print(f"tabnet settings {TABNET}", flush=True)
    for kind in args.splits.split(","):
        for reduced in (False, True):
            key = f"{kind}/{'reduced' if reduced else 'full'}"
            X = features(df, reduced, drop_circuit=kind == "circuit")
            y = df["NIVEL_RIES"].to_numpy()
            scores = {m: [] for m in models}
            secs = {m: 0.0 for m in models}
            for seed, tr, te in splits(df, kind, seeds):
                tr_fit, tr_val = train_test_split(tr, test_size=0.15, stratify=y[tr], random_state=seed)
                for m in models:
                    t = time.perf_counter()
                    pred = fit_predict(m, X.iloc[tr_fit], y[tr_fit], X.iloc[tr_val], y[tr_val], X.iloc[te], seed, args.quick)
                    secs[m] += time.perf_counter() - t
                    scores[m].append(f1_score(y[te], pred, average="macro"))
            results[key] = {m: {"macro_f1": float(np.mean(v)), "sd": float(np.std(v)), "values": [round(x, 4) for x in v],
                                "seconds": secs[m]} for m, v in scores.items()}
            print(f"{key:18s} " + "  ".join(f"{m} {results[key][m]['macro_f1']:.3f}±{results[key][m]['sd']:.3f} "
                                            f"({secs[m]:.0f}s)" for m in models), flush=True)
    print(json.dumps({"quick": args.quick, "seeds": seeds, "tabnet": TABNET, "results": results}))


if __name__ == "__main__":
    main()
