"""Who belongs with whom: label draws, co-clustering, best partition, number of groups.

Pure NumPy. The labels are summed out of the model, so they are drawn afterwards from
their exact conditional ``p(z_i = k | y_i, theta_s)`` for each posterior draw ``s``; this
gives draws from the joint posterior of labels and parameters. Everything here is
label-invariant (co-clustering, partitions, the number of non-empty components), so it
is unaffected by how components are numbered.
"""

from __future__ import annotations

import numpy as np

from bayesmix.posterior.density import Draws, responsibilities

__all__ = [
    "best_partition",
    "binder_loss",
    "coclustering",
    "n_occupied",
    "sample_labels",
    "vi_loss",
]

#: Largest N for which the N x N co-clustering matrix is built (8 * N^2 bytes: 200 MB).
MAX_COCLUSTER_N = 5000


def sample_labels(y: np.ndarray, draws: Draws, rng: np.random.Generator) -> np.ndarray:
    """Draw every observation's component for every posterior draw, shape (S, n), int.

    Done one draw at a time, so memory stays at O(n K) whatever S is.
    """
    labels = np.empty((draws.n_draws, y.size), dtype=np.int64)
    for s in range(draws.n_draws):
        one = draws.take(slice(s, s + 1))
        cum = np.cumsum(responsibilities(y, one)[0], axis=1)
        u = rng.random(y.size)[:, None] * cum[:, -1:]
        labels[s] = np.minimum((u > cum).sum(axis=1), draws.n_components - 1)
    return labels


def n_occupied(labels: np.ndarray) -> np.ndarray:
    """Count the non-empty components K+ in each row of a (S, n) label array."""
    s = labels.shape[0]
    k = int(labels.max()) + 1
    counts = np.zeros((s, k), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(s), labels.shape[1]), labels.ravel()), 1)
    return (counts > 0).sum(axis=1)


def coclustering(y: np.ndarray, draws: Draws) -> np.ndarray:
    """Posterior similarity matrix ``P(z_i = z_j | y)``, shape (n, n).

    Given the parameters, labels are independent, so for one draw
    ``P(z_i = z_j) = sum_k r_ik r_jk``; the matrix is the mean of ``R R^T`` over draws,
    exact up to Monte Carlo error in the parameters (no label sampling needed).
    """
    if y.size > MAX_COCLUSTER_N:
        raise ValueError(
            f"co-clustering of {y.size} points needs an {y.size} x {y.size} matrix; it is "
            f"built for at most {MAX_COCLUSTER_N} points: pass a subset"
        )
    out = np.zeros((y.size, y.size))
    for s in range(draws.n_draws):
        one = draws.take(slice(s, s + 1))
        r = responsibilities(y, one)[0]
        out += r @ r.T
    out /= draws.n_draws
    np.fill_diagonal(out, 1.0)
    return out


def binder_loss(partition: np.ndarray, similarity: np.ndarray) -> float:
    """Return the expected Binder loss (equal costs) of ``partition`` under the posterior.

    ``sum_{i<j} |1[c_i = c_j] - P(z_i = z_j | y)|``, which for a 0/1 indicator equals the
    posterior expected number of misclassified pairs.
    """
    same = partition[:, None] == partition[None, :]
    loss = np.abs(same - similarity)
    return float(np.triu(loss, k=1).sum())


def _entropy(counts: np.ndarray, n: int) -> float:
    p = counts[counts > 0] / n
    return float(-(p * np.log(p)).sum())


def vi_loss(partition: np.ndarray, label_draws: np.ndarray) -> float:
    """Posterior expected variation of information between ``partition`` and the draws.

    ``VI(c, z) = H(c) + H(z) - 2 I(c, z)`` (Meila 2007), averaged over label draws
    (Wade & Ghahramani 2018).
    """
    n = partition.size
    _, c = np.unique(partition, return_inverse=True)
    h_c = _entropy(np.bincount(c), n)
    total = 0.0
    for z in label_draws:
        _, zi = np.unique(z, return_inverse=True)
        joint = np.bincount(c * (zi.max() + 1) + zi)
        total += 2.0 * _entropy(joint, n) - h_c - _entropy(np.bincount(zi), n)
    return total / label_draws.shape[0]


def best_partition(
    label_draws: np.ndarray,
    map_partition: np.ndarray,
    similarity: np.ndarray | None = None,
    loss: str = "binder",
) -> tuple[np.ndarray, float]:
    """Return the candidate partition with the smallest posterior expected loss.

    Candidates are the sampled partitions and the most-probable-component partition
    (Dahl 2006's search over draws). Returns the partition, relabelled so that groups
    keep their component numbers, and its expected loss.
    """
    if loss not in ("binder", "vi"):
        raise ValueError(f"loss={loss!r} must be 'binder' or 'vi'")
    candidates = np.vstack([map_partition[None, :], label_draws])
    if loss == "binder":
        if similarity is None:
            raise ValueError("the Binder loss needs the co-clustering matrix")
        losses = [binder_loss(c, similarity) for c in candidates]
    else:
        losses = [vi_loss(c, label_draws) for c in candidates]
    best = int(np.argmin(losses))
    return candidates[best].copy(), float(losses[best])
