"""Simulator speed: runs per second per optimizer under nb201-iclr20 (CIFAR-10, 12,000 s).

    python bench/bench_simulator.py [--runs 200] [--data ../shared/data]

Also runs REA on a search space restricted to 240 cells and on all 15,625, to
show that a run's cost does not grow with the size of the space.
"""
from __future__ import annotations

import argparse
import time

from mfkdbench import load_benchmark
from mfkdbench.errors import UserError
from mfkdbench.search.optimizer import optimizer_names
from mfkdbench.search.presets import get_preset
from mfkdbench.search.simulator import Budget, simulate


def runs_per_second(bench, name: str, runs: int, budget: Budget, target: str) -> tuple[float, float]:
    """(runs per second, mean evaluations per run); one warm-up run first."""
    simulate(bench, name, 0, budget, target_fidelity=target)
    t0, n_evals = time.perf_counter(), 0
    for seed in range(runs):
        n_evals += len(simulate(bench, name, seed, budget, target_fidelity=target).evaluations)
    return runs / (time.perf_counter() - t0), n_evals / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--slow-runs", type=int, default=5, help="runs for model-based optimizers")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    preset = get_preset("nb201-iclr20")
    bench = load_benchmark("cifar10", args.data)
    budget = Budget(preset.budget_for("cifar10"))
    print(f"nb201-iclr20 on cifar10 ({budget.seconds:g} simulated s), one worker")
    print(f"{'optimizer':<14}{'runs/s':>10}{'ms/run':>10}{'evals/run':>11}")
    fast = {"random", "rea", "reinforce", "local-search", "hyperband"}
    for name in optimizer_names():
        try:
            rate, evals = runs_per_second(bench, name, args.runs if name in fast else args.slow_runs, budget,
                                          preset.target_fidelity)
        except UserError as exc:  # e.g. needs a low fidelity this protocol does not offer
            print(f"{name:<14}  n/a: {exc}")
            continue
        print(f"{name:<14}{rate:10.1f}{1e3 / rate:10.2f}{evals:11.1f}")
    small = bench.restricted("cifar10-240", range(240))
    full_rate, _ = runs_per_second(bench, "rea", args.runs, budget, preset.target_fidelity)
    small_rate, _ = runs_per_second(small, "rea", args.runs, budget, preset.target_fidelity)
    print(f"rea, 15,625 cells vs 240 cells: {1e3 / full_rate:.2f} vs {1e3 / small_rate:.2f} ms/run "
          f"(ratio {small_rate / full_rate:.2f})")


if __name__ == "__main__":
    main()
