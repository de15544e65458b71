"""Wall time of ``mfkdbench compare`` with the default grid (the whole command: start-up, cells, tables, figures).

1. the default grid's non-GP searches, ``--seeds 20``, one dataset, with 1 and 2 worker processes: speed-up;
2. the whole default grid with 2 workers (the goal: under 2 minutes on 2 cores) and where the time goes:
   wall seconds per optimizer summed over its cells, of which optimizer ask/tell.

Timings vary with the machine's load (a shared machine gives noisy numbers); compare ratios within one run.
Usage: ``MFKDBENCH_DATA=../shared/data python bench/bench_compare.py [--dataset cifar100] [--seeds 20]``
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

    module = importlib.import_module(optimizer_class(name.partition("@")[0]).__module__)
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
        walls = store.wall_times().groupby("optimizer")["wall_s"].sum().sort_values(ascending=False)
        overhead: dict[str, float] = {}
        for r in store.runs():
            overhead[r.optimizer] = overhead.get(r.optimizer, 0.0) + r.overhead_s
    lines = [f"  {'optimizer':<18} {'wall s, all cells':>17} {'share':>6} {'of which ask/tell':>18}"]
    for name, wall in walls.items():
        lines.append(f"  {name:<18} {wall:>17.2f} {100 * wall / walls.sum():>5.0f}% {overhead[name]:>12.2f} "
                     f"({100 * overhead[name] / wall:.0f} %)")
    return "\n".join(lines)


def main() -> None:
    from mfkdbench.experiments.grid import make_protocol, plan_comparison

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    protocol = make_protocol(args.dataset, None)
    plan = plan_comparison(protocol, None, 1)
    names = list(dict.fromkeys(c.optimizer for c in plan.cells))
    for name, reason in plan.skipped.items():
        print(f"skipped {name}: {reason}")
    plain = [n for n in names if not gp_based(n)]
    with tempfile.TemporaryDirectory() as tmp:
        # a first run builds the table cache so no timing below pays for it
        timed_compare(args.dataset, 1, plain[:1], 1, Path(tmp) / "warm")
        print(f"protocol {protocol.preset}, budget {protocol.budget_s:g} s; non-GP searches: {', '.join(plain)}")
        t1 = timed_compare(args.dataset, args.seeds, plain, 1, Path(tmp) / "w1")
        t2 = timed_compare(args.dataset, args.seeds, plain, 2, Path(tmp) / "w2")
        print(f"  1 worker:  {t1:6.1f} s\n  2 workers: {t2:6.1f} s\n  speed-up 2 over 1: {t1 / t2:.2f}x")
        print(f"compare --dataset {args.dataset} --seeds {args.seeds} --workers 2, default grid ({len(names)} searches)")
        total = timed_compare(args.dataset, args.seeds, names, 2, Path(tmp) / "all")
        print(f"  total: {total:6.1f} s (goal: under 120 s on 2 cores)")
        print(breakdown(Path(tmp) / "all"))


if __name__ == "__main__":
    main()
