"""Every sampler gives the same posterior: means agree within Monte Carlo error."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import bayesmix as bm

PARAMETERS = ("weights", "mu", "sigma")


def _mean_and_mcse(res: bm.MixtureResult) -> tuple[np.ndarray, np.ndarray]:
    table = res.summary().loc[[f"{p}[{k}]" for p in PARAMETERS for k in range(2)]]
    return table["mean"].to_numpy(), (table["sd"] / np.sqrt(table["ess_bulk"])).to_numpy()


# ESS < 400 with 2 x 500 draws warns; the tolerance below accounts for the ESS
@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")
@pytest.mark.parametrize("sampler", ["pymc", "numpyro", "blackjax"])
def test_samplers_agree_with_the_default(
    sampler: str, quickstart_y: np.ndarray, quickstart_fit: bm.MixtureResult
) -> None:
    if importlib.util.find_spec(sampler) is None and sampler != "pymc":
        pytest.skip(f"{sampler} is not installed")
    res = bm.fit(quickstart_y, 2, sampler=sampler, draws=500, tune=500, chains=2,
                 random_seed=2, progressbar=False)  # fmt: skip
    assert res.sampler_settings["sampler"] == sampler
    ours, ours_se = _mean_and_mcse(res)
    ref, ref_se = _mean_and_mcse(quickstart_fit)
    # 4.5 combined MC standard errors: a 1-in-10^5 event per parameter under agreement
    np.testing.assert_array_less(np.abs(ours - ref), 4.5 * np.hypot(ours_se, ref_se))
