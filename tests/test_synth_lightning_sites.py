"""The twin's lightning lands on persistent strike-prone sites, without changing the stroke count."""

from __future__ import annotations

import numpy as np

from gridcrit.data.synth import build_network
from gridcrit.data.synth import exposure as ex
from gridcrit.data.synth.scales import MONTH_2019_01


def _yearly_counts(lm: ex.LightningModel, scale: str) -> tuple[np.ndarray, float]:
    """Strokes within 1.5 km of every segment node, year 1 and year 2; mean strokes per month."""
    pos = {int(n): i for i, n in enumerate(lm.nodes)}
    cnt = np.zeros((2, len(lm.nodes)))
    total = 0
    for k in range(24):
        m = MONTH_2019_01 + k
        s = lm.month(0, scale, m, ex.month_weather(0, scale, m))
        np.add.at(cnt[k // 12], [pos[int(n)] for n in s.node], 1)
        total += len(s.node)
    near = lm.tree.query_ball_point(lm.tree.data, 1.5)
    return np.array([[c[b].sum() for b in near] for c in cnt]), total / 24


def _without_sites(lm: ex.LightningModel, net) -> None:
    lm.keep_p = np.ones_like(lm.keep_p)
    lm.per_month = ex.STROKES_PER_MONTH_CHEC * net.n_segments / ex.CHEC_SEGMENTS


def test_hotspot_field_is_lognormal_with_unit_variance_exponent():
    xy = np.random.default_rng(1).uniform(0, 200, (20_000, 2))
    z = np.log(ex.hotspot_field(xy, np.random.default_rng(2), sigma=1.0))
    assert abs(z.mean()) < 0.15 and 0.8 < z.std() < 1.2


def test_strike_prone_sites_persist_from_year_to_year_and_keep_the_stroke_count():
    net = build_network(0, "small")
    lm = ex.LightningModel(net)
    assert 0.02 < lm.keep_p.mean() < 0.5
    (y1, y2), per_month = _yearly_counts(lm, "small")
    r_sites = np.corrcoef(np.log1p(y1), np.log1p(y2))[0, 1]
    _without_sites(lm, net)
    (o1, o2), per_month_old = _yearly_counts(lm, "small")
    r_old = np.corrcoef(np.log1p(o1), np.log1p(o2))[0, 1]
    assert r_sites > 0.9 > r_old + 0.1  # measured 0.97 vs 0.66
    assert 0.85 < per_month / per_month_old < 1.15  # measured 953 vs 896 strokes per month
