"""``fit_many``: one mixture per group, on dask.distributed, from a laptop to a cluster.

Each group is one task of :mod:`bayesmix.sampling.engine`: ``bm.fit`` on a worker, with
the group's seed (a hash of the run's seed and the group's name, so draws do not depend
on scheduling or the number of workers), the fit sent back as its DataTree and
diagnostics. Workers live for the whole call, so each compiles a model structure
(family, K) once and reuses it for every group after (``bayesmix.sampling.compiled``).

With ``out=``, every fit is written to the folder as it finishes, with an index, so an
interruption or a lost worker loses no finished group; a rerun with the same folder
skips the groups already written and verified (same data, seed and options).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bayesmix.data.provenance import data_fingerprint
from bayesmix.io import read_fit
from bayesmix.result import MixtureResult
from bayesmix.sampling.engine import (
    as_finished,
    cluster_client,
    distributed_or_error,
    fit_packed,
    unpack,
)
from bayesmix.sampling.groups import (
    file_name,
    group_seed,
    observations_or_error,
    read_index,
    to_groups,
    write_index,
)
from bayesmix.sampling.manyfits import GroupRecord, ManyFits
from bayesmix.sampling.settings import random_seed_of

__all__ = ["fit_many"]


def _fit_task(
    y: np.ndarray, n_components: int, options: dict[str, Any], target: str | None
) -> dict[str, Any]:
    """Fit one group on a worker; any failure (bad data, a sampling error) is its message."""
    try:
        return {"status": "ok", **fit_packed(y, n_components, options, target)}
    except Exception as err:  # noqa: BLE001 - one group's failure is data, not a crash
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}


class _Progress:
    """Groups done / failed / total and the time left, on stderr.

    On a terminal one line is redrawn; elsewhere (logs, CI) a line is printed at every
    tenth of the groups.
    """

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.start = total, enabled, time.monotonic()
        self.done = self.failed = 0
        self.redraw = sys.stderr.isatty()

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        step = max(self.total // 10, 1)
        if not self.enabled or not (
            self.redraw or self.done % step == 0 or self.done == self.total
        ):
            return
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        line = (
            f"fit_many: {self.done}/{self.total} groups done, {self.failed} failed, "
            f"{elapsed:.0f} s elapsed, ~{left:.0f} s left"
        )
        if self.redraw:
            end = "\n" if self.done == self.total else ""
            print(f"\r{line} ", end=end, file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _resumable(
    folder: Path, name: str, seed: int, y: np.ndarray | None, options_key: str,
    entry: dict[str, Any] | None,
) -> MixtureResult | None:  # fmt: skip
    """Return the written fit of ``name`` if whole and of the same data, seed, options."""
    if entry is None or entry.get("status") == "failed" or y is None:
        return None
    if entry.get("seed") != seed or entry.get("options") != options_key:
        return None
    if entry.get("data_sha256") != data_fingerprint(y):
        return None
    try:
        return MixtureResult(read_fit(folder / str(entry.get("file"))))
    except (OSError, ValueError):
        return None  # missing, truncated or corrupted: fit again


def fit_many(
    groups: Any,
    n_components: int = 2,
    *,
    by: str | None = None,
    column: str | None = None,
    out: str | os.PathLike[str] | None = None,
    client: Any = None,
    n_workers: int | None = None,
    processes: bool = False,
    random_seed: int | None = None,
    retry: int = 1,
    progressbar: bool = True,
    **fit_options: Any,
) -> ManyFits:
    """Fit a mixture to each of many groups, in parallel on dask.distributed.

    Parameters
    ----------
    groups : mapping, pandas.DataFrame or iterable
        ``{name: data}``; a long DataFrame with a group column (``by``) and a value
        column (``column``); or an iterable of data sets (named "0", "1", ...).
    n_components : int, default 2
        K of every fit.
    by, column : str, optional
        For a DataFrame: the group column and the value column (default: the only other
        numeric column).
    out : path, optional
        A folder to write each fit to as it finishes (``<name>-<hash>.nc``) with an
        ``index.json``; a rerun with the same folder resumes, skipping the groups whose
        file is whole and of the same data, seed and options.
    client : distributed.Client, optional
        An existing cluster's client (e.g. from dask-jobqueue or Kubernetes). By default
        a ``LocalCluster`` is started and shut down by the call.
    n_workers : int, optional
        Fits run at once on the local cluster; default one per CPU core. Each fit runs
        its chains on one core (``cores=1`` unless given), so chains never
        oversubscribe the machine.
    processes : bool, default False
        The local cluster's layout: False, one worker in this process with ``n_workers``
        threads (the model compiled here once serves every fit; sampling releases the
        GIL); True, ``n_workers`` single-threaded worker processes, each compiling the
        model once (~15 s) but isolated from each other's crashes.
    random_seed : int, optional
        The run's seed; each group's seed is derived from it and the group's name
        (:attr:`ManyFits.seeds`). If None, one is drawn and recorded.
    retry : int, default 1
        How many times a task is retried when its worker is lost.
    progressbar : bool, default True
        Print progress (groups done, failed, time left) and the dashboard link.
    **fit_options
        Passed to :func:`bayesmix.fit` for every group (``family``, ``draws``, ...).

    Returns
    -------
    ManyFits
        Mapping group -> :class:`MixtureResult` of the groups that ran, with
        ``failures``, ``convergence`` (one row per group), ``components`` (tidy, all
        groups) and ``seeds``.

    Raises
    ------
    ImportError
        If dask.distributed is not installed (``pip install 'bayesmix[dask]'``).
    ValueError, TypeError
        For an invalid ``groups``, ``by``, ``column`` or option. Bad data of one group is
        not raised: that group fails alone, with its message.

    Notes
    -----
    The local cluster's workers are new processes: a script that calls ``fit_many``
    must do so under ``if __name__ == "__main__":`` (as for :mod:`multiprocessing`);
    notebooks need nothing.

    Examples
    --------
    >>> import bayesmix as bm
    >>> groups = {g: bm.simulate_mixture(300, [0.5, 0.5], [0, 4], [1, 1], random_seed=i)
    ...           for i, g in enumerate(["a", "b"])}
    >>> fits = bm.fit_many(groups, 2, random_seed=1)  # doctest: +SKIP
    >>> fits.components  # doctest: +SKIP
    """
    distributed_or_error("fit_many", " (or fit the groups one by one with bm.fit)")
    named = to_groups(groups, by=by, column=column)
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
        raise ValueError(f"retry={retry!r}: give a whole number >= 0")
    seed = random_seed_of(random_seed)
    fit_options.setdefault("cores", 1)
    options_key = repr(sorted((k, repr(v)) for k, v in fit_options.items())) + f"|K={n_components}"
    folder = None if out is None else Path(out)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    index = {} if folder is None else read_index(folder)
    run_info = {"random_seed": seed, "n_components": n_components, "options": options_key}

    records: dict[str, GroupRecord] = {}
    todo: dict[str, np.ndarray] = {}
    for name, data in named.items():
        y, error = observations_or_error(data)
        g_seed = group_seed(seed, name)
        if y is None:
            records[name] = GroupRecord(name, g_seed, error=error)
            continue
        if folder is not None:
            done = _resumable(folder, name, g_seed, y, options_key, index.get(name))
            if done is not None:
                file = str(folder / index[name]["file"])
                records[name] = GroupRecord(name, g_seed, done, file=file, resumed=True)
                continue
        todo[name] = y
    if folder is not None:
        for name, rec in records.items():
            index[name] = _entry(rec, named_y=None, options_key=options_key)
        write_index(folder, index, run_info)

    if todo:
        with cluster_client(client, n_workers, processes, "fit_many", progressbar) as c:
            _run(c, todo, n_components, seed, fit_options, options_key, folder,
                 index, run_info, records, retry, progressbar)  # fmt: skip
    ordered = {name: records[name] for name in named}
    return ManyFits(ordered, seed, None if folder is None else str(folder))


def _entry(rec: GroupRecord, named_y: np.ndarray | None, options_key: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": rec.status, "seed": rec.seed, "options": options_key}
    if rec.file is not None:
        entry["file"] = Path(rec.file).name
    if rec.result is not None:
        entry["data_sha256"] = data_fingerprint(rec.result.data)
    elif named_y is not None:
        entry["data_sha256"] = data_fingerprint(named_y)
    if rec.error is not None:
        entry["error"] = rec.error
    return entry


def _run(
    client: Any, todo: dict[str, np.ndarray], n_components: int, seed: int,
    options: dict[str, Any], options_key: str, folder: Path | None,
    index: dict[str, dict[str, Any]], run_info: dict[str, Any],
    records: dict[str, GroupRecord], retry: int, progressbar: bool,
) -> None:  # fmt: skip
    """Submit every group, collect them as they finish, keep the index current."""
    tasks = {
        name: (_fit_task, (y, n_components, {**options, "random_seed": group_seed(seed, name)},
                           None if folder is None else str((folder / file_name(name)).resolve())))
        for name, y in todo.items()
    }  # fmt: skip
    progress = _Progress(len(tasks), progressbar)
    for name, answer, error in as_finished(client, tasks, retry=retry, label="fit"):
        if error is not None:  # a lost worker fails this group only
            answer = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        rec = _record(name, group_seed(seed, name), answer)
        records[name] = rec
        if folder is not None:
            index[name] = _entry(rec, todo[name], options_key)
            write_index(folder, index, run_info)
        progress.update(rec.result is None)


def _record(name: str, seed: int, answer: dict[str, Any]) -> GroupRecord:
    if answer["status"] != "ok":
        return GroupRecord(name, seed, error=answer["error"])
    try:
        return GroupRecord(name, seed, unpack(answer), file=answer["file"])
    except (KeyError, TypeError, ValueError) as err:
        return GroupRecord(name, seed, error=f"the fit could not be taken back: {err}")
