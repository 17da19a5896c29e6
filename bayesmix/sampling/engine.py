"""The one engine of many fits: tasks on dask.distributed, fits packed to travel.

``fit_many``, ``compare(..., client=)`` and the SBC runner all run here: a cluster (an
embedded ``LocalCluster`` or the user's ``client``), tasks submitted with unique keys
and collected as they finish, and a fit packed on the worker as its DataTree and
diagnostics (dask's own serialisation between processes; files on disk stay NetCDF).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from bayesmix.io import save
from bayesmix.model import MixtureSpec
from bayesmix.result import MixtureResult
from bayesmix.sampling.nuts import attach_log_likelihood
from bayesmix.sampling.run import fit_components

__all__ = ["as_finished", "cluster_client", "distributed_or_error", "fit_packed", "unpack"]

_DASK_MISSING = (
    "{what} runs on dask.distributed, which is not installed: "
    "pip install 'bayesmix[dask]'{instead}"
)


def distributed_or_error(what: str, instead: str = "") -> ModuleType:
    """Return :mod:`distributed`, or raise an ImportError that names the extra."""
    try:
        import distributed
    except ImportError as err:
        raise ImportError(_DASK_MISSING.format(what=what, instead=instead)) from err
    return distributed


@contextmanager
def cluster_client(
    client: Any, n_workers: int | None, processes: bool, what: str, progressbar: bool
) -> Iterator[Any]:
    """Yield ``client``, or a client of a ``LocalCluster`` started and shut down here.

    The local cluster has ``n_workers`` slots (default: one per core): one worker in
    this process with a thread per slot, or (``processes=True``) one single-threaded
    worker process per slot.
    """
    distributed = distributed_or_error(what)
    if client is not None:
        yield client
        return
    slots = n_workers or os.cpu_count() or 1
    with (
        distributed.LocalCluster(
            n_workers=slots if processes else 1,
            threads_per_worker=1 if processes else slots,
            processes=processes, dashboard_address=":0", silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as own,
    ):  # fmt: skip
        if progressbar:
            print(f"{what}: dask dashboard at {own.dashboard_link}", file=sys.stderr)
        yield own


def as_finished(
    client: Any,
    tasks: Mapping[str, tuple[Callable[..., Any], tuple[Any, ...]]],
    *,
    retry: int = 1,
    label: str = "task",
) -> Iterator[tuple[str, Any, BaseException | None]]:
    """Submit ``{name: (function, args)}`` and yield ``(name, answer, error)`` as each ends.

    ``error`` is the exception of a task that raised or whose worker was lost (after
    ``retry`` retries); ``answer`` is then None. If the caller stops early (an
    exception, Ctrl-C), the tasks not yet done are cancelled.
    """
    distributed = distributed_or_error(label)
    token = uuid.uuid4().hex[:8]
    futures = {
        client.submit(fn, *args, key=f"bayesmix-{label}-{token}-{i}", retries=retry, pure=False):
            name
        for i, (name, (fn, args)) in enumerate(tasks.items())
    }  # fmt: skip
    try:
        for fut in distributed.as_completed(futures):
            try:
                answer, error = fut.result(), None
            except Exception as err:  # noqa: BLE001 - handed to the caller, per task
                answer, error = None, err
            yield futures[fut], answer, error
    finally:
        client.cancel([f for f in futures if not f.done()])


def fit_packed(
    y: np.ndarray,
    n_components: int,
    options: dict[str, Any],
    target: str | None = None,
) -> dict[str, Any]:
    """Fit on a worker; write the fit to ``target`` if given; return it packed to travel.

    The tree travels without its pointwise log-likelihood (recomputed lazily where it
    arrives, :func:`unpack`) and with its diagnostics, whose warnings the caller issues
    or not (none is issued here: ``warnings.catch_warnings`` is process-wide, so a task
    in one of several worker threads must not use it), and the seconds it took.
    """
    start = time.perf_counter()
    res = fit_components(y, n_components, progressbar=False, warn=False, **options)
    if target is not None:
        save(res, target)
    tree = res.idata.copy()
    if "log_likelihood" in tree.children:
        del tree["log_likelihood"]
    return {
        "tree": tree,
        "diagnostics": res.diagnostics,
        "file": target,
        "seconds": time.perf_counter() - start,
    }


def unpack(packed: dict[str, Any]) -> MixtureResult:
    """Return a packed fit as a result here, its log-likelihood attached (lazily)."""
    tree = packed["tree"]
    y = np.asarray(tree["observed_data"]["y"].values, dtype=np.float64)
    spec = MixtureSpec.from_dict(json.loads(tree.attrs["bayesmix_spec"]))
    attach_log_likelihood(tree, y, spec)
    return MixtureResult(tree, diagnostics=packed["diagnostics"])
