"""Wall time of ``mfkdbench compare`` (the whole command: start-up, every cell, tables, figures).

1. every non-GP optimizer, ``--seeds 20``, one dataset, with 1 and 2 worker processes: times and speed-up;
2. the GP-based optimizers (those using :mod:`mfkdbench.mfkd.cokriging`) on the same grid: time, and where it
   goes (mean wall seconds per cell, of which optimizer ask/tell, per optimizer).

Usage: ``MFKDBENCH_DATA=../shared/data python bench/bench_compare.py [--dataset cifar10] [--seeds 20]``
"""
from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def gp_based(name: str) -> bool:
    """Whether the optimizer's module uses the co-kriging / GP model."""
    from mfkdbench.search.optimizer import optimizer_class

    module = importlib.import_module(optimizer_class(name).__module__)
    return any(getattr(v, "__module__", "") == "mfkdbench.mfkd.cokriging" for v in vars(module).values())


def timed_compare(dataset: str, seeds: int, optimizers: list[str], workers: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "click_cli", "compare", "--dataset", dataset, "--seeds", str(seeds),
           "--optimizers", ",".join(optimizers), "--workers", str(workers), "--out", str(out), "--quiet"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"compare failed: {done.stderr.strip()}")
    return elapsed


def breakdown(out: Path) -> str:
    from mfkdbench.experiments.store import ResultStore

    with ResultStore(out, create=False) as store:
        walls = store.wall_times().groupby("optimizer")["wall_s"].mean()
        overhead = {r.optimizer: [] for r in store.runs()}
        for r in store.runs():
            overhead[r.optimizer].append(r.overhead_s)
    lines = [f"  {'optimizer':<14} {'wall s/cell':>11} {'of which ask/tell':>18}"]
    for name, wall in walls.items():
        oh = sum(overhead[name]) / len(overhead[name])
        lines.append(f"  {name:<14} {wall:>11.3f} {oh:>12.3f} ({100 * oh / wall:.0f} %)")
    return "\n".join(lines)


def main() -> None:
    from mfkdbench.experiments.grid import make_protocol, plan_comparison

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    plan = plan_comparison(make_protocol(args.dataset, None), None, 1)
    names = sorted({c.optimizer for c in plan.cells})
    for name, reason in plan.skipped.items():
        print(f"skipped {name}: {reason}")
    plain = [n for n in names if not gp_based(n)]
    gp = [n for n in names if gp_based(n)]
    with tempfile.TemporaryDirectory() as tmp:
        # a first run builds the table cache so neither timing below pays for it
        timed_compare(args.dataset, 1, plain[:1], 1, Path(tmp) / "warm")
        print(f"compare --dataset {args.dataset} --seeds {args.seeds}, non-GP optimizers: {', '.join(plain)}")
        t1 = timed_compare(args.dataset, args.seeds, plain, 1, Path(tmp) / "w1")
        t2 = timed_compare(args.dataset, args.seeds, plain, 2, Path(tmp) / "w2")
        print(f"  1 worker:  {t1:6.1f} s\n  2 workers: {t2:6.1f} s\n  speed-up 2 over 1: {t1 / t2:.2f}x")
        print(breakdown(Path(tmp) / "w2"))
        if gp:
            print(f"GP-based optimizers: {', '.join(gp)} (2 workers)")
            tg = timed_compare(args.dataset, args.seeds, gp, 2, Path(tmp) / "gp")
            print(f"  total: {tg:6.1f} s")
            print(breakdown(Path(tmp) / "gp"))
        else:
            print("GP-based optimizers: none registered")


if __name__ == "__main__":
    main()
