"""Work split over the cores, on threads, for numba kernels that release the GIL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["PARALLEL_MIN_ELEMENTS", "run_parallel", "split_work"]

#: Work of at least this many values is split over all cores (threads cost ~0.1 ms).
PARALLEL_MIN_ELEMENTS = 100_000


def split_work(n: int, size: int, min_size: int | None = None) -> list[slice]:
    """Split ``range(n)`` into a block per core if the work is ``size`` values or more.

    ``min_size`` defaults to :data:`PARALLEL_MIN_ELEMENTS` (read at call time).
    """
    threshold = PARALLEL_MIN_ELEMENTS if min_size is None else min_size
    workers = min(os.cpu_count() or 1, n) if size >= threshold else 1
    bounds = np.linspace(0, n, workers + 1).astype(int)
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def run_parallel(jobs: list[Callable[[], object]]) -> None:
    """Run GIL-releasing jobs, on threads if there are several."""
    if len(jobs) == 1:
        jobs[0]()
        return
    # a pool per call, not one kept alive: live threads make PyMC's forked chains unsafe
    with ThreadPoolExecutor(len(jobs)) as pool:
        for job in [pool.submit(j) for j in jobs]:
            job.result()
