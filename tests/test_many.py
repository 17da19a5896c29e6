"""fit_many on a real dask LocalCluster: serial-identical draws, failures, resume, lost workers."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.sampling.groups import file_name, group_seed, to_groups

distributed = pytest.importorskip("distributed")

#: Small fits: the point is the machinery, not the posterior (which may miss ESS targets).
FAST = {"draws": 200, "tune": 200}
pytestmark = pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A LocalCluster of 2 single-threaded worker processes, as fit_many starts by default."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):  # fmt: skip
        yield c


@pytest.fixture(scope="module")
def groups() -> dict[str, Any]:
    data: dict[str, Any] = {
        f"site {i}": bm.simulate_mixture(200, [0.5, 0.5], [0.0, 4.0], [1.0, 1.0], random_seed=i)
        for i in range(4)
    }
    data["broken"] = [1.0, float("nan"), 3.0]
    return data


@pytest.fixture(scope="module")
def many(client: Any, groups: dict[str, Any]) -> bm.ManyFits:
    return bm.fit_many(groups, 2, client=client, random_seed=7, progressbar=False, **FAST)


def test_draws_equal_the_serial_fits_with_the_derived_seeds(
    many: bm.ManyFits, groups: dict[str, Any]
) -> None:
    assert sorted(many) == [f"site {i}" for i in range(4)]
    for name in ("site 0", "site 3"):
        assert many.seeds[name] == group_seed(7, name)
        serial = bm.fit(
            groups[name], 2, random_seed=many.seeds[name], cores=1, progressbar=False, **FAST
        )
        for var in ("weights", "mu", "sigma"):
            np.testing.assert_array_equal(
                many[name].idata["posterior"][var].values, serial.idata["posterior"][var].values
            )


def test_bad_group_fails_alone_with_its_message(many: bm.ManyFits) -> None:
    assert "broken" not in many
    assert "NaN" in many.failures["broken"] or "nan" in many.failures["broken"]
    table = many.convergence
    assert table.loc["broken", "status"] == "failed"
    assert set(table.drop(index="broken")["status"]) <= {"ok", "not converged"}
    with pytest.raises(KeyError, match="group 'broken' failed"):
        many["broken"]


def test_combined_tables_are_tidy(many: bm.ManyFits) -> None:
    comp = many.components
    assert list(comp.columns[:2]) == ["group", "component"]
    assert len(comp) == 4 * 2
    means = comp.pivot(index="group", columns="component", values="mean")
    # each site's truth is 0 and 4, sd 1 with 100 points each: the means are within 0.5
    np.testing.assert_allclose(means.to_numpy(), np.tile([0.0, 4.0], (4, 1)), atol=0.5)
    assert repr(many).startswith("<ManyFits: 5 groups (")


def test_seeds_do_not_depend_on_the_number_of_workers(
    many: bm.ManyFits, groups: dict[str, Any]
) -> None:
    one = {k: groups[k] for k in ("site 0", "site 1", "site 2", "site 3")}
    # the default layout: one worker in this process, fits at once in two threads, all
    # sharing one compiled model (each chain must still start where its own fit says)
    for n_workers in (1, 2):
        alone = bm.fit_many(one, 2, n_workers=n_workers, random_seed=7, progressbar=False, **FAST)
        for name in one:
            np.testing.assert_array_equal(
                alone[name].idata["posterior"]["mu"].values,
                many[name].idata["posterior"]["mu"].values,
            )


def test_out_writes_each_fit_and_a_rerun_resumes(
    client: Any, groups: dict[str, Any], tmp_path: Path
) -> None:
    first = bm.fit_many(
        groups, 2, client=client, out=tmp_path, random_seed=3, progressbar=False, **FAST
    )
    index = json.loads((tmp_path / "index.json").read_text())["groups"]
    assert index["broken"]["status"] == "failed"
    for name in first:
        assert (tmp_path / file_name(name)).exists() and index[name]["file"] == file_name(name)
    # corrupt one file: the rerun refits it, and only it
    (tmp_path / file_name("site 2")).write_bytes(b"not a fit")
    again = bm.fit_many(
        groups, 2, client=client, out=tmp_path, random_seed=3, progressbar=False, **FAST
    )
    resumed = again.convergence["resumed"]
    assert not resumed["site 2"] and resumed.drop(["site 2", "broken"]).all()
    np.testing.assert_array_equal(
        again["site 2"].idata["posterior"]["mu"].values,
        first["site 2"].idata["posterior"]["mu"].values,
    )
    # other options are another run: nothing is reused
    other = bm.fit_many(
        groups, 2, client=client, out=tmp_path, random_seed=4, progressbar=False, **FAST
    )
    assert not other.convergence["resumed"].any()


def test_a_killed_worker_loses_no_finished_group(
    client: Any, groups: dict[str, Any], tmp_path: Path
) -> None:
    many_groups = {f"g{i}": groups[f"site {i % 4}"] for i in range(8)}
    pids = client.run(os.getpid)

    def kill_one_after_the_first_group() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                index = json.loads((tmp_path / "index.json").read_text())["groups"]
            except (OSError, ValueError, KeyError):
                index = {}
            if any(e.get("status") != "failed" for e in index.values()):
                os.kill(next(iter(pids.values())), signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one_after_the_first_group)
    killer.start()
    run = bm.fit_many(
        many_groups, 2, client=client, out=tmp_path, random_seed=5, retry=0,
        progressbar=False, draws=400, tune=400,
    )  # fmt: skip
    killer.join()
    written = {n for n, r in run.records.items() if r.result is not None}
    assert written, run.convergence
    for name in written:  # every finished group is on disk, whole
        bm.load(tmp_path / file_name(name))
    rerun = bm.fit_many(
        many_groups, 2, client=client, out=tmp_path, random_seed=5, progressbar=False,
        draws=400, tune=400,
    )  # fmt: skip
    assert not rerun.failures
    assert rerun.convergence.loc[sorted(written), "resumed"].all()


def test_groups_from_a_long_frame_and_errors() -> None:
    frame = pd.DataFrame({"store": ["a", "b", "a", "b"], "sales": [1.0, 2.0, 3.0, 4.0]})
    split = to_groups(frame, by="store")
    assert list(split) == ["a", "b"] and list(split["b"]) == [2.0, 4.0]
    with pytest.raises(ValueError, match="give by="):
        to_groups(frame)
    with pytest.raises(ValueError, match="by='shop' is not a column"):
        to_groups(frame, by="shop")
    with pytest.raises(ValueError, match="groups is empty"):
        to_groups({})
    with pytest.raises(ValueError, match=r"retry=-1: give a whole number >= 0"):
        bm.fit_many({"a": [1.0, 2.0]}, 1, retry=-1)


def test_cli_fit_many_writes_every_group_and_reports_the_failed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bayesmix.cli import main

    rows = [
        ("north", v) for v in bm.simulate_mixture(150, [0.5, 0.5], [0, 4], [1, 1], random_seed=1)
    ]
    rows += [("tiny", 1.0)]
    table = tmp_path / "panel.csv"
    pd.DataFrame(rows, columns=["store", "sales"]).to_csv(table, index=False)
    out = tmp_path / "fits"
    args = ["fit-many", str(table), "--by", "store", "--column", "sales", "-k", "2",
            "--draws", "200", "--tune", "200", "--seed", "1", "--out", str(out),
            "--workers", "1"]  # fmt: skip
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "1 group(s) failed" in captured.err
    assert "only 1 observation" in captured.out
    index = json.loads((out / "index.json").read_text())["groups"]
    assert index["tiny"]["status"] == "failed"
    bm.load(out / index["north"]["file"])


# -- compare and SBC on the same machinery -------------------------------------------


def test_compare_on_a_cluster_equals_the_serial_compare(
    client: Any, groups: dict[str, Any]
) -> None:
    y = groups["site 0"]
    on_cluster = bm.compare(y, [1, 2], client=client, random_seed=4, progressbar=False, **FAST)
    serial = bm.compare(y, [1, 2], random_seed=4, cores=1, progressbar=False, **FAST)
    assert on_cluster.best_k == serial.best_k == 2
    for k in (1, 2):
        np.testing.assert_array_equal(
            on_cluster.fits[k].idata["posterior"]["mu"].values,
            serial.fits[k].idata["posterior"]["mu"].values,
        )
    pd.testing.assert_frame_equal(on_cluster.table, serial.table)
    # an invalid option fails as it does here, with the same message
    with pytest.raises(ValueError, match="draws=0"):
        bm.compare(y, [1], client=client, draws=0, progressbar=False)


def test_sbc_on_a_cluster_and_on_threads_equals_the_serial_run(client: Any) -> None:
    from bayesmix.validation import sbc

    config = sbc.SBCConfig(n_obs=40, draws=100, tune=150, n_thin=19)
    serial = sbc.run_sbc(config, reps=3, seed=2)
    ranks = [c for c in serial.columns if c.startswith(("rank_", "true_"))] + ["fit_seed"]
    assert len(ranks) == 2 * len(config.parameters) + 1 and (serial["error"] == "").all()
    for other in (
        sbc.run_sbc(config, reps=3, seed=2, client=client),
        sbc.run_sbc(config, reps=3, seed=2, jobs=2),  # in-process threads
    ):
        pd.testing.assert_frame_equal(other[ranks], serial[ranks])
