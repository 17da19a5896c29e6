"""Saved fits: save -> load round trips, and clear errors for every kind of bad file."""

from __future__ import annotations

import copy
import json
import os
import pathlib
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import fake_result, iid_posterior

import bayesmix as bm
from bayesmix.data.provenance import data_fingerprint
from bayesmix.io.netcdf import FORMAT, FitFileError
from bayesmix.posterior.loglik import log_likelihood_dataset


@pytest.fixture(scope="module")
def fit() -> bm.MixtureResult:
    """One small real NUTS fit (default sampler), so sampler-written attrs are covered."""
    y = bm.simulate_mixture(150, [0.4, 0.6], [-2.0, 3.0], [1.0, 1.2], random_seed=21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)  # low ESS at this size
        return bm.fit(y, 2, draws=200, tune=200, chains=2, random_seed=5, progressbar=False)


@pytest.fixture(scope="module")
def saved(fit: bm.MixtureResult, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return fit.save(tmp_path_factory.mktemp("io") / "fit.nc")


@pytest.fixture(scope="module")
def loaded(saved: pathlib.Path) -> bm.MixtureResult:
    return bm.load(saved)


@pytest.fixture(scope="module")
def fake() -> bm.MixtureResult:
    y = bm.simulate_mixture(120, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=2)
    w, m, s = iid_posterior(np.random.default_rng(1), [0.5, 0.5], [0.0, 5.0], [1.0, 1.0])
    return fake_result(y, w, m, s)


# -- round trip ----------------------------------------------------------------------------
def test_loaded_tree_is_identical_to_the_fresh_one(
    fit: bm.MixtureResult, loaded: bm.MixtureResult
) -> None:
    assert list(loaded.idata.children) == list(fit.idata.children)
    for node in fit.idata.subtree:
        assert dict(loaded.idata[node.path].attrs) == dict(node.attrs), node.path
    assert loaded.idata.identical(fit.idata)


def test_loaded_result_gives_identical_numbers(
    fit: bm.MixtureResult, loaded: bm.MixtureResult
) -> None:
    x = np.linspace(-6.0, 8.0, 57)
    pd.testing.assert_frame_equal(loaded.summary(), fit.summary())
    pd.testing.assert_frame_equal(loaded.components, fit.components)
    np.testing.assert_array_equal(loaded.pdf(x), fit.pdf(x))
    np.testing.assert_array_equal(loaded.score_samples(x), fit.score_samples(x))
    pd.testing.assert_frame_equal(loaded.density(x, ci_prob=0.8), fit.density(x, ci_prob=0.8))
    np.testing.assert_array_equal(loaded.predict_proba(), fit.predict_proba())
    pd.testing.assert_frame_equal(loaded.membership(x), fit.membership(x))
    np.testing.assert_array_equal(loaded.sample(50, random_seed=3), fit.sample(50, random_seed=3))
    pd.testing.assert_frame_equal(loaded.diagnostics.table, fit.diagnostics.table)
    assert loaded.diagnostics.problems == fit.diagnostics.problems
    assert loaded.diagnostics.divergences == fit.diagnostics.divergences
    assert loaded.converged == fit.converged


def test_spec_settings_data_and_versions_survive(
    fit: bm.MixtureResult, loaded: bm.MixtureResult
) -> None:
    assert loaded.spec == fit.spec
    assert loaded.sampler_settings == fit.sampler_settings
    assert loaded.sampler_settings["random_seed"] == 5
    np.testing.assert_array_equal(loaded.data, fit.data)
    assert json.loads(loaded.idata.attrs["bayesmix_versions"])["pymc"]
    assert repr(loaded) == repr(fit)


def test_model_is_rebuilt_from_the_file(fit: bm.MixtureResult, loaded: bm.MixtureResult) -> None:
    assert sorted(rv.name for rv in loaded.model.free_RVs) == sorted(
        rv.name for rv in fit.model.free_RVs
    )


def test_file_has_format_marker_and_no_log_likelihood(saved: pathlib.Path) -> None:
    with h5py.File(saved, "r") as h5:
        assert h5.attrs["bayesmix_format"] == FORMAT
        assert "posterior" in h5 and "observed_data" in h5
        assert "log_likelihood" not in h5


def test_log_likelihood_is_recomputed_exactly(
    fit: bm.MixtureResult, loaded: bm.MixtureResult
) -> None:
    fresh = fit.idata["log_likelihood"]["y"].values
    np.testing.assert_array_equal(loaded.idata["log_likelihood"]["y"].values, fresh)


def test_save_does_not_modify_the_result(fake: bm.MixtureResult, tmp_path: pathlib.Path) -> None:
    before = {n.path: copy.deepcopy(dict(n.attrs)) for n in fake.idata.subtree}
    tree_before = fake.idata.copy(deep=True)
    fake.save(tmp_path / "f.nc")
    assert {n.path: dict(n.attrs) for n in fake.idata.subtree} == before
    assert fake.idata.identical(tree_before)
    assert os.listdir(tmp_path) == ["f.nc"]  # no temporary file left behind


def test_fit_without_log_likelihood_does_not_gain_one(
    fake: bm.MixtureResult, tmp_path: pathlib.Path
) -> None:
    back = bm.load(bm.save(fake, tmp_path / "f.nc"))
    assert "log_likelihood" not in back.idata.children
    # save records the data fingerprint if the tree lacks it (as a fit from a DataTree may)
    assert "bayesmix_data_sha256" not in fake.idata.attrs
    assert back.idata.attrs.pop("bayesmix_data_sha256") == data_fingerprint(fake.data)
    assert back.idata.identical(fake.idata)
    pd.testing.assert_frame_equal(back.diagnostics.table, fake.diagnostics.table)


def test_log_likelihood_that_is_not_derivable_is_stored(
    fake: bm.MixtureResult, tmp_path: pathlib.Path
) -> None:
    tree = fake.idata.copy(deep=True)
    ll = log_likelihood_dataset(tree["posterior"].to_dataset(), fake.data)
    tree["log_likelihood"] = ll * (1 + 1e-12)  # e.g. computed by PyMC: not bit-identical
    path = bm.save(bm.MixtureResult(tree), tmp_path / "f.nc")
    with h5py.File(path, "r") as h5:
        assert "log_likelihood" in h5
    assert bm.load(path).idata["log_likelihood"].identical(tree["log_likelihood"])


def test_attrs_and_text_hdf5_cannot_hold_round_trip(
    fake: bm.MixtureResult, tmp_path: pathlib.Path
) -> None:
    tree = fake.idata.copy(deep=True)
    stats = tree["sample_stats"].to_dataset()
    odd = {"flag": True, "nothing": None, "nested": {"a": [1, 2.5]}, "dims": ["chain", "draw"]}
    stats.attrs.update(odd)
    message = np.full(stats["diverging"].shape, None, dtype=object)
    message[0, 3] = "divergence at step 3"
    stats["message"] = (("chain", "draw"), message)
    stats["junk"] = (("chain", "draw"), np.full(message.shape, {"x": 1}, dtype=object))
    tree["sample_stats"] = stats
    back = bm.load(bm.save(bm.MixtureResult(tree), tmp_path / "odd.nc"))
    got = back.idata["sample_stats"]
    for key, value in odd.items():
        assert got.attrs[key] == value and type(got.attrs[key]) is type(value)
    assert got["message"].values[0, 3] == "divergence at step 3"
    assert pd.isna(got["message"].values[1, 3])  # xarray holds None next to text as NaN
    assert got["message"].identical(tree["sample_stats"]["message"])
    assert "junk" not in got  # objects that are not text cannot be stored faithfully...
    assert "junk" in got.attrs["bayesmix_dropped_variables"]  # ...and that is recorded


def test_file_is_closed_after_load(fit: bm.MixtureResult, tmp_path: pathlib.Path) -> None:
    path = fit.save(tmp_path / "fit.nc")
    back = bm.load(path)
    assert not h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)
    path.unlink()  # would fail on Windows if the file were still open
    assert back.pdf([0.0])[0] == fit.pdf([0.0])[0]
    fit.save(path)  # overwrite in place
    bm.save(bm.load(path), path)  # overwrite the file just read
    assert bm.load(path).idata.identical(fit.idata)


# -- save errors ---------------------------------------------------------------------------
def test_save_errors(fake: bm.MixtureResult, tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="no_such_dir.*does not exist"):
        fake.save(tmp_path / "no_such_dir" / "f.nc")
    with pytest.raises(IsADirectoryError, match="directory"):
        fake.save(tmp_path)
    with pytest.raises(TypeError, match="MixtureResult"):
        bm.save(fake.idata, tmp_path / "f.nc")  # type: ignore[arg-type]


def test_save_refuses_data_that_do_not_match_the_fingerprint(
    fake: bm.MixtureResult, tmp_path: pathlib.Path
) -> None:
    tree = fake.idata.copy(deep=True)
    tree.attrs["bayesmix_data_sha256"] = "0" * 64
    with pytest.raises(ValueError, match="fingerprint"):
        bm.save(bm.MixtureResult(tree), tmp_path / "f.nc")
    assert not (tmp_path / "f.nc").exists()


# -- load errors ---------------------------------------------------------------------------
def test_missing_file_and_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no such file: '.*nope\.nc'"):
        bm.load(tmp_path / "nope.nc")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        bm.load(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"y\n1.0\n2.0\n", r"not a NetCDF-4 \(HDF5\) file"),
        (b"CDF\x01" + bytes(60), "is a NetCDF-3 file"),
    ],
    ids=["empty", "text", "netcdf3-header"],
)
def test_files_that_are_not_netcdf4(tmp_path: pathlib.Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.nc"
    path.write_bytes(content)
    with pytest.raises(FitFileError, match=message) as info:
        bm.load(path)
    assert "bad.nc" in str(info.value) and info.value.path == path


def test_netcdf_that_is_not_a_bayesmix_fit(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(FitFileError, match=r"other\.nc.*not a bayesmix fit"):
        bm.load(path)
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(path, engine="scipy")
    with pytest.raises(FitFileError, match="NetCDF-3"):
        bm.load(path)


@pytest.mark.parametrize("keep", [8, 1000, 0.5, -1], ids=["8B", "1kB", "half", "all-but-1"])
def test_truncated_file(saved: pathlib.Path, tmp_path: pathlib.Path, keep: float) -> None:
    raw = saved.read_bytes()
    n = int(keep * len(raw)) if isinstance(keep, float) else keep % len(raw)
    path = tmp_path / "cut.nc"
    path.write_bytes(raw[:n])
    with pytest.raises(FitFileError, match=r"cut\.nc' is truncated or corrupted"):
        bm.load(path)


def _edit(src: pathlib.Path, dst: pathlib.Path, group: str, var: str) -> None:
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as h5:
        values = h5[group][var][...]
        values.flat[0] += 1.0
        h5[group][var][...] = values


def test_changed_posterior_fails_the_checksum(saved: pathlib.Path, tmp_path: pathlib.Path) -> None:
    _edit(saved, tmp_path / "edited.nc", "posterior", "mu")
    with pytest.raises(FitFileError, match=r"edited\.nc' is corrupted.*checksum"):
        bm.load(tmp_path / "edited.nc")


def test_changed_data_fail_the_fingerprint(saved: pathlib.Path, tmp_path: pathlib.Path) -> None:
    _edit(saved, tmp_path / "edited.nc", "observed_data", "y")
    with pytest.raises(FitFileError, match=r"edited\.nc' holds observed data.*fingerprint"):
        bm.load(tmp_path / "edited.nc")


def test_newer_format_is_refused(saved: pathlib.Path, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "new.nc"
    path.write_bytes(saved.read_bytes())
    with h5py.File(path, "r+") as h5:
        h5.attrs["bayesmix_format"] = "bayesmix-fit/99"
    with pytest.raises(FitFileError, match="has format 'bayesmix-fit/99'"):
        bm.load(path)


def test_flipped_bytes_are_detected_or_harmless(
    fit: bm.MixtureResult, saved: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    raw = saved.read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "flipped.nc"
    detected = 0
    for offset in rng.choice(len(raw), size=30, replace=False):
        data = bytearray(raw)
        data[offset] ^= 0xFF
        path.write_bytes(bytes(data))
        try:
            back = bm.load(path)
        except FitFileError as err:
            assert "flipped.nc" in str(err)
            detected += 1
        else:  # a flip in unused padding: the content must be exactly what was saved
            assert back.idata.identical(fit.idata), f"undetected change at byte {offset}"
    assert detected >= 15
    assert not h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)
