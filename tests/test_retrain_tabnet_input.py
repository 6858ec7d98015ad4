"""Fine-tuning the zoo's TabNet feeds its network the inputs it was trained on (heavy-tailed columns
log-transformed by the wrapper), not the raw columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.models.zoo import make_model
from gridcrit.registry.finetune import continue_training


def test_tabnet_finetune_sees_the_network_input():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"count": rng.poisson(rng.gamma(0.3, 20, 500)).astype(float), "x": rng.normal(size=500)})
    y = np.log1p(X["count"]).to_numpy() + 0.1 * rng.normal(size=500)
    m = make_model("tabnet", max_epochs=3, n_steps=1, batch_size=256, random_state=0).fit(X, y)
    assert m.log_scale_  # "count" is heavy-tailed: the network sees log1p(count / scale)
    seen = []
    fit = m.net_.fit

    def spy(Xf, yf, **kw):
        seen.append(pd.DataFrame(Xf).copy())
        return fit(Xf, yf, **kw)

    m.net_.fit = spy
    continue_training(m, X, y, rounds=1)
    assert seen
    want = m.network_input(X)["count"].to_numpy()
    got = seen[0]["count"].to_numpy()
    assert got.max() <= want.max() + 1e-6 < X["count"].max()  # transformed, not raw counts
    assert np.isin(np.round(got, 5), np.round(want, 5)).all()
