"""Explanation plots as PNG (matplotlib, Agg backend) and interactive HTML (plotly; ``plotly.min.js`` is
written once beside the files, so the HTML works offline without one 3 MB copy per chart).

Every function takes an output path *stem* (``out/global``) and writes ``stem.png`` and
``stem.html``; it returns both paths. Heat maps show at most ``max_rows`` rows (the first ones).

* :func:`global_bar` — global importances, top ``k`` features;
* :func:`asset_drivers` — one row's signed (or unsigned) attributions, top ``k``;
* :func:`mask_heatmap` — rows × features of per-row importances;
* :func:`step_masks` — one heat map per TabNet decision step;
* :func:`agreement_matrix` — Spearman matrix between methods.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig_mpl, fig_plotly, stem: Path) -> dict[str, str]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, html = stem.with_suffix(".png"), stem.with_suffix(".html")
    fig_mpl.tight_layout()
    fig_mpl.savefig(png, dpi=110)
    _plt().close(fig_mpl)
    fig_plotly.write_html(str(html), include_plotlyjs="directory", full_html=True)
    return {"png": str(png), "html": str(html)}


def global_bar(names: list[str], importance: np.ndarray, stem: Path, title: str = "", k: int = 20) -> dict[str, str]:
    """Horizontal bar chart of the ``k`` most important features."""
    import plotly.graph_objects as go

    order = np.argsort(-np.asarray(importance), kind="stable")[:k][::-1]
    labels, vals = [names[j] for j in order], np.asarray(importance)[order]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(order) + 1.2))
    ax.barh(labels, vals, color="#3b6ea8")
    ax.set_xlabel("importance")
    ax.set_title(title)
    pf = go.Figure(go.Bar(x=vals, y=labels, orientation="h"))
    pf.update_layout(title=title, xaxis_title="importance", height=300 + 18 * len(order))
    return _save(fig, pf, stem)


def asset_drivers(names: list[str], values: np.ndarray, stem: Path, title: str = "", k: int = 10,
                  signed: bool = True, xlabel: str = "") -> dict[str, str]:
    """Bar chart of one row's attributions, top ``k`` by size; features with no attribution (a sparse
    TabNet mask's zeros) are left out rather than drawn as empty drivers. Signed methods: red pushes
    the prediction up, blue down; unsigned ones (masks, permutation) are one neutral colour, since
    they say how much the model relied on a feature, not which way it pushed."""
    import plotly.graph_objects as go

    values = np.asarray(values, dtype=float)
    order = [j for j in np.argsort(-np.abs(values), kind="stable")[:k] if np.isfinite(values[j]) and values[j] != 0]
    order = order[::-1]
    labels, vals = [names[j] for j in order], values[order]
    colors = ["#c0392b" if v > 0 else "#2e6da4" for v in vals] if signed else ["#5d6d7e"] * len(vals)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(order), 1) + 1.2))
    ax.barh(labels, vals, color=colors)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    pf = go.Figure(go.Bar(x=vals, y=labels, orientation="h", marker_color=colors))
    pf.update_layout(title=title, height=300 + 18 * len(order), xaxis_title=xlabel)
    return _save(fig, pf, stem)


def mask_heatmap(names: list[str], values: np.ndarray, stem: Path, title: str = "", max_rows: int = 200,
                 row_labels: list[str] | None = None) -> dict[str, str]:
    """Heat map of |attributions| over rows (y) × features (x)."""
    import plotly.graph_objects as go

    v = np.abs(np.asarray(values, dtype=float))[:max_rows]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(names) + 2), 5))
    im = ax.imshow(v, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_ylabel("row")
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    pf = go.Figure(go.Heatmap(z=v, x=names, y=(row_labels or list(range(len(v))))[: len(v)], colorscale="Viridis"))
    pf.update_layout(title=title, height=600)
    return _save(fig, pf, stem)


def step_masks(names: list[str], masks: np.ndarray, stem: Path, title: str = "", max_rows: int = 100) -> dict[str, str]:
    """One heat map per decision step of TabNet's masks ``[steps, n, f]``."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    masks = np.asarray(masks)[:, :max_rows]
    s = masks.shape[0]
    plt = _plt()
    fig, axes = plt.subplots(1, s, figsize=(4 * s, 5), squeeze=False)
    for i in range(s):
        axes[0, i].imshow(masks[i], aspect="auto", cmap="viridis", interpolation="nearest")
        axes[0, i].set_title(f"step {i + 1}")
        axes[0, i].set_xticks(range(len(names)))
        axes[0, i].set_xticklabels(names, rotation=90, fontsize=5)
    fig.suptitle(title)
    pf = make_subplots(rows=1, cols=s, subplot_titles=[f"step {i + 1}" for i in range(s)])
    for i in range(s):
        pf.add_trace(go.Heatmap(z=masks[i], x=names, coloraxis="coloraxis"), row=1, col=i + 1)
    pf.update_layout(title=title, height=600, coloraxis={"colorscale": "Viridis"})
    return _save(fig, pf, stem)


def agreement_matrix(methods: list[str], matrix: np.ndarray, stem: Path, title: str = "") -> dict[str, str]:
    """Spearman matrix between methods (annotated)."""
    import plotly.graph_objects as go

    m = np.asarray(matrix, dtype=float)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.2 * len(methods) + 2, 1.1 * len(methods) + 1.5))
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods, rotation=45)
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods)
    for i in range(len(methods)):
        for j in range(len(methods)):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    pf = go.Figure(go.Heatmap(z=m, x=methods, y=methods, zmin=-1, zmax=1, colorscale="RdBu_r", text=np.round(m, 2),
                              texttemplate="%{text}"))
    pf.update_layout(title=title)
    return _save(fig, pf, stem)
