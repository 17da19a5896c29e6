"""``fit_many``: one mixture per group, on dask.distributed, from a laptop to a cluster.

Each group is one task: ``bm.fit`` on a worker, with the group's seed (a hash of the
run's seed and the group's name, so draws do not depend on scheduling or the number of
workers), the fit sent back as its DataTree and diagnostics (dask's serialisation; files
on disk are NetCDF, never pickles).
Workers are processes that live for the whole call, so each compiles a model structure
(family, K) once and reuses it for every group after (``bayesmix.sampling.compiled``).

With ``out=``, every fit is written to the folder as it finishes, with an index, so an
interruption or a lost worker loses no finished group; a rerun with the same folder
skips the groups already written and verified (same data, seed and options).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bayesmix.data.provenance import data_fingerprint
from bayesmix.io import read_fit, save
from bayesmix.model import MixtureSpec
from bayesmix.result import MixtureResult
from bayesmix.sampling.groups import (
    file_name,
    group_seed,
    observations_or_error,
    read_index,
    to_groups,
    write_index,
)
from bayesmix.sampling.manyfits import GroupRecord, ManyFits
from bayesmix.sampling.nuts import attach_log_likelihood
from bayesmix.sampling.run import fit_components
from bayesmix.sampling.settings import random_seed_of

__all__ = ["fit_many"]

_DASK_MISSING = (
    "fit_many runs on dask.distributed, which is not installed: "
    "pip install 'bayesmix[dask]' (or fit the groups one by one with bm.fit)"
)


def _fit_task(
    name: str, y: np.ndarray, n_components: int, seed: int, options: dict[str, Any],
    target: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Fit one group on a worker; write it to ``target`` if given; return its tree.

    The tree travels without its pointwise log-likelihood (recomputed lazily where it
    arrives) and with its diagnostics. Any failure of this group (bad data, a sampling
    error) is returned as its message, so it never stops the others.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the verdict travels with the fit
            res = fit_components(y, n_components, random_seed=seed, progressbar=False, **options)
        if target is not None:
            save(res, target)
        tree = res.idata.copy()
        if "log_likelihood" in tree.children:
            del tree["log_likelihood"]
        return {"status": "ok", "tree": tree, "diagnostics": res.diagnostics, "file": target}
    except Exception as err:  # noqa: BLE001 - one group's failure is data, not a crash
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}


def _arrived(answer: dict[str, Any]) -> MixtureResult:
    """Return the worker's fit as a result here, its log-likelihood attached (lazy)."""
    tree = answer["tree"]
    y = np.asarray(tree["observed_data"]["y"].values, dtype=np.float64)
    spec = MixtureSpec.from_dict(json.loads(tree.attrs["bayesmix_spec"]))
    attach_log_likelihood(tree, y, spec)
    return MixtureResult(tree, diagnostics=answer["diagnostics"])


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
    try:
        import distributed
    except ImportError as err:
        raise ImportError(_DASK_MISSING) from err
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
        own = client is None
        cluster = None
        if own:
            slots = n_workers or os.cpu_count() or 1
            cluster = distributed.LocalCluster(
                n_workers=slots if processes else 1,
                threads_per_worker=1 if processes else slots,
                processes=processes, dashboard_address=":0", silence_logs=40,
            )  # fmt: skip
            client = distributed.Client(cluster)
        try:
            if progressbar:
                print(f"fit_many: dask dashboard at {client.dashboard_link}", file=sys.stderr)
            _run(client, todo, n_components, seed, fit_options, options_key, folder,
                 index, run_info, records, retry, progressbar)  # fmt: skip
        finally:
            if own:
                client.close()
                assert cluster is not None
                cluster.close()
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
    import distributed

    token = uuid.uuid4().hex[:8]
    futures = {}
    for i, (name, y) in enumerate(todo.items()):
        target = None if folder is None else str((folder / file_name(name)).resolve())
        fut = client.submit(
            _fit_task, name, y, n_components, group_seed(seed, name), options, target,
            key=f"bayesmix-fit-{token}-{i}", retries=retry, pure=False,
        )  # fmt: skip
        futures[fut] = name
    progress = _Progress(len(futures), progressbar)
    try:
        for fut in distributed.as_completed(futures):
            name = futures[fut]
            g_seed = group_seed(seed, name)
            try:
                answer = fut.result()
            except Exception as err:  # noqa: BLE001 - a lost worker fails this group only
                answer = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
            rec = _record(name, g_seed, answer)
            records[name] = rec
            if folder is not None:
                index[name] = _entry(rec, todo[name], options_key)
                write_index(folder, index, run_info)
            progress.update(rec.result is None)
    except BaseException:
        client.cancel(list(futures))
        raise


def _record(name: str, seed: int, answer: dict[str, Any]) -> GroupRecord:
    if answer["status"] != "ok":
        return GroupRecord(name, seed, error=answer["error"])
    try:
        return GroupRecord(name, seed, _arrived(answer), file=answer["file"])
    except (KeyError, TypeError, ValueError) as err:
        return GroupRecord(name, seed, error=f"the fit could not be taken back: {err}")
