"""Block-wise PSIS-LOO equals ArviZ's loo on the whole log-likelihood."""

from __future__ import annotations

import numpy as np
import pytest
from arviz_stats import loo

import bayesmix as bm
from bayesmix.posterior.blockloo import block_loo


@pytest.mark.parametrize("max_values", [4000 * 7, 4000 * 1000, 10**9])
def test_block_loo_equals_loo(quickstart_fit: bm.MixtureResult, max_values: int) -> None:
    """Blocks of 7 observations, of 1000 (one block) and a single block agree with loo."""
    full = loo(quickstart_fit.idata, pointwise=True, var_name="y")
    post = quickstart_fit.idata["posterior"].to_dataset()
    ours = block_loo(post, quickstart_fit.data, max_values=max_values)
    assert ours.elpd == pytest.approx(full.elpd, rel=1e-12)
    assert ours.se == pytest.approx(full.se, rel=1e-12)
    assert ours.p == pytest.approx(full.p, rel=1e-10)
    np.testing.assert_allclose(ours.pareto_k.values, full.pareto_k.values, rtol=1e-12)
    assert ours.n_data_points == full.n_data_points == quickstart_fit.data.size
    assert ours.log_weights is None  # draws x N: not kept


def test_compare_scores_large_fits_block_by_block(
    quickstart_fit: bm.MixtureResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fit without a stored log-likelihood, above the threshold, is scored in blocks."""
    from bayesmix.sampling import selection

    monkeypatch.setattr(selection, "LOG_LIK_MAX_VALUES", 1000)
    tree = quickstart_fit.idata.copy()
    del tree["log_likelihood"]
    elpd, notes = selection._score(bm.MixtureResult(tree, model=quickstart_fit.model), True)
    assert elpd is not None and "blocks" in notes[0]
    full = loo(quickstart_fit.idata, pointwise=True, var_name="y")
    assert elpd.elpd == pytest.approx(full.elpd, rel=1e-12)
