"""Does NST rank kd240's cells better than CE because it favours cells like the teacher?

The teacher is NB201's ResNet cell (index 11472). For the 228 cells of ``cifar100-kd240`` with an
epoch-12 NST validation score, by edit distance to the teacher (edges whose operation differs): Spearman
of NST-12 and of CE-12 with the 200-epoch CIFAR-100 test accuracy on the same cells, the gain NST - CE
with a 95 % paired percentile-bootstrap interval (cells resampled within the group, both fidelities on
the same draws). Last, the direct test of "favours teacher-like cells": the Spearman correlation of the
distance with each fidelity's rank error (its rank of a cell minus the cell's test-accuracy rank);
NST favouring teacher-like cells more than CE shows as a more negative correlation than CE's.

    python bench/nst_teacher_distance.py [--bootstrap 2000] [--seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import rankdata, spearmanr

from mfkdbench.lowfi.sources import TEACHER_INDEX
from mfkdbench.nb201.space import SearchSpace
from mfkdbench.nb201.tables import load_tables

#: distance groups: the few cells at 0-3 edges pooled so each group holds enough cells for a correlation
GROUPS = {"0-3": (0, 3), "4": (4, 4), "5": (5, 5), "6": (6, 6), "all": (0, 6)}


def _spearman_pair(nst, ce, target, draws) -> np.ndarray:
    """``(len(draws), 2)`` Spearman of NST and CE with the target on each resample of cell positions."""
    out = np.empty((len(draws), 2))
    for b, pick in enumerate(draws):
        out[b] = spearmanr(nst[pick], target[pick])[0], spearmanr(ce[pick], target[pick])[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tables = load_tables(None)
    space = SearchSpace(tables.index_codes)
    nst_all = tables.get("cifar100", "nst12_val")
    cells = np.flatnonzero(np.isfinite(nst_all[:240]))
    nst, ce = nst_all[cells], tables.get("cifar100", "val_acc_12")[cells]
    target = tables.get("cifar100", "test_acc_200")[cells]
    distance = (space.ops(cells) != space.ops([TEACHER_INDEX])[0]).sum(axis=1)
    rng = np.random.default_rng(args.seed)
    print(f"cifar100-kd240: {len(cells)} cells with NST-12, teacher {space.arch(TEACHER_INDEX)} "
          f"(index {TEACHER_INDEX})")
    print("Spearman with the 200-epoch test accuracy, by edit distance to the teacher; gain = NST - CE, "
          f"95 % paired bootstrap ({args.bootstrap} resamples)\n")
    print("| edges differing from the teacher | cells | NST-12 | CE-12 | gain NST - CE | 95 % interval |")
    print("|---|---:|---:|---:|---:|---|")
    for label, (low, high) in GROUPS.items():
        where = np.flatnonzero((distance >= low) & (distance <= high))
        point = _spearman_pair(nst[where], ce[where], target[where], [np.arange(len(where))])[0]
        boot = _spearman_pair(nst[where], ce[where], target[where],
                              rng.integers(len(where), size=(args.bootstrap, len(where))))
        lo, hi = np.nanpercentile(boot[:, 0] - boot[:, 1], [2.5, 97.5])
        print(f"| {label} | {len(where)} | {point[0]:.3f} | {point[1]:.3f} | {point[0] - point[1]:+.3f} "
              f"| [{lo:+.3f}, {hi:+.3f}] |")
    print("\nSpearman of the distance to the teacher with each fidelity's rank error (its rank - test rank; "
          "negative: cells near the teacher ranked too high)\n")
    true_rank = rankdata(target)
    errors = {"NST-12": rankdata(nst) - true_rank, "CE-12": rankdata(ce) - true_rank}
    draws = rng.integers(len(cells), size=(args.bootstrap, len(cells)))
    for name, error in errors.items():
        boot = [spearmanr(distance[pick], error[pick])[0] for pick in draws]
        lo, hi = np.nanpercentile(boot, [2.5, 97.5])
        print(f"{name}: {spearmanr(distance, error)[0]:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    diff = [spearmanr(distance[p], errors["NST-12"][p])[0] - spearmanr(distance[p], errors["CE-12"][p])[0]
            for p in draws]
    lo, hi = np.nanpercentile(diff, [2.5, 97.5])
    point = spearmanr(distance, errors["NST-12"])[0] - spearmanr(distance, errors["CE-12"])[0]
    print(f"NST - CE: {point:+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main()
