"""Chains stuck in a minor mode are rerun from the others' consensus and spliced back."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix.sampling import run
from bayesmix.sampling.stray import RERUN_ATTR, consensus_start, splice_chains


def _swap_modes(res: bm.MixtureResult, chain: int) -> xr.DataTree:
    """A copy of the fit whose ``chain`` sits in a wrong mode: means pulled together."""
    tree = res.idata.copy()
    post = tree["posterior"].to_dataset()
    for name, scale in (("mu_z", 0.3), ("mu", 0.3)):
        values = post[name].copy()
        mean = values.mean()
        values.loc[{"chain": chain}] = mean + scale * (values.sel(chain=chain) - mean)
        post[name] = values
    tree["posterior"] = xr.DataTree(post)
    return tree


def test_consensus_start_is_a_valid_start(quickstart_fit: bm.MixtureResult) -> None:
    start = consensus_start(quickstart_fit.idata, [0, 2, 3], ("weights", "mu_z", "sigma_z"))
    assert start["weights"].sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(start["mu_z"]) > 0) and np.all(start["sigma_z"] > 0)
    post = quickstart_fit.idata.posterior
    expected = post["mu_z"].sel(chain=[0, 2, 3]).mean(("chain", "draw")).values
    np.testing.assert_allclose(start["mu_z"], expected, rtol=1e-12)


def test_splice_replaces_only_the_named_chains(quickstart_fit: bm.MixtureResult) -> None:
    tree = quickstart_fit.idata
    other = _swap_modes(quickstart_fit, 0)  # any tree with the same variables
    rerun = other.copy()
    rerun["posterior"] = xr.DataTree(other["posterior"].to_dataset().isel(chain=[0]))
    rerun["sample_stats"] = xr.DataTree(other["sample_stats"].to_dataset().isel(chain=[0]))
    out = splice_chains(tree, rerun, [2])
    assert list(out.posterior["chain"].values) == [0, 1, 2, 3]
    np.testing.assert_array_equal(
        out.posterior["mu"].sel(chain=2), other.posterior["mu"].sel(chain=0)
    )
    for c in (0, 1, 3):
        np.testing.assert_array_equal(
            out.posterior["mu"].sel(chain=c), tree.posterior["mu"].sel(chain=c)
        )
    assert "log_likelihood" not in out.children  # it described the replaced draws


def test_a_stray_chain_is_rerun_into_the_main_mode(
    quickstart_y: np.ndarray, quickstart_fit: bm.MixtureResult
) -> None:
    stuck = bm.MixtureResult(_swap_modes(quickstart_fit, 1), model=quickstart_fit.model)
    assert stuck.diagnostics.stray_chains == (1,)
    settings = bm.SamplerSettings(
        **json.loads(quickstart_fit.idata.attrs["bayesmix_sampler_settings"])
    )
    settings = replace(settings, draws=300, tune=300, chains=4)
    # the rerun draws 300 per chain; trim the others to match
    trimmed = stuck.idata.copy()
    for group in ("posterior", "sample_stats"):
        trimmed[group] = xr.DataTree(trimmed[group].to_dataset().isel(draw=slice(0, 300)))
    stuck = bm.MixtureResult(trimmed, model=quickstart_fit.model)
    fixed = run._rerun_stray(stuck, quickstart_y, quickstart_fit.spec, settings, (1,), False, {})
    assert fixed.diagnostics.stray_chains == ()
    assert "log_likelihood" in fixed.idata.children
    record = json.loads(fixed.idata.attrs[RERUN_ATTR])
    assert record[0]["chains"] == [1] and record[0]["seed"] != settings.random_seed
    np.testing.assert_array_equal(
        fixed.idata.posterior["mu"].sel(chain=0), stuck.idata.posterior["mu"].sel(chain=0)
    )
