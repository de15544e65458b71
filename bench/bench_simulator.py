"""Simulator speed: runs per second per optimizer under nb201-iclr20 (CIFAR-10, 12,000 s).

    python bench/bench_simulator.py [--runs 200] [--data ../shared/data]

Also runs REA on a search space restricted to 240 cells and on all 15,625, to
show that a run's cost does not grow with the size of the space, and prints the
time per evaluation of random search and REA over that of a minimal numpy loop
over the same table (the goal: within 2x). Timings vary with the machine's load;
the ratios are measured within one run.
"""
from __future__ import annotations

import argparse
import time

from mfkdbench import load_benchmark
from mfkdbench.errors import UserError
import math
from collections import deque

import numpy as np

from mfkdbench.nb201.space import EDGES, N_OPS, ops_to_codes
from mfkdbench.search.optimizer import optimizer_names
from mfkdbench.search.presets import get_preset
from mfkdbench.search.simulator import Budget, simulate


def runs_per_second(bench, name: str, runs: int, budget: Budget, target: str) -> tuple[float, float]:
    """(runs per second, mean evaluations per run); one warm-up run first."""
    simulate(bench, name, 0, budget, target_fidelity=target)
    t0, n_evals = time.perf_counter(), 0
    for seed in range(runs):
        n_evals += simulate(bench, name, seed, budget, target_fidelity=target).n_evaluations
    return runs / (time.perf_counter() - t0), n_evals / runs


def minimal_random(scores, costs, cells, seconds, rng) -> int:
    """Random search as a bare loop: draw, look up, keep the best; returns the number of evaluations."""
    now, best, n = 0.0, -math.inf, 0
    while now < seconds:
        i = cells[rng.integers(len(cells))]
        now += costs[i]
        best = max(best, scores[i])
        n += 1
    return n


def minimal_rea(scores, costs, space, seconds, rng, population: int = 10, sample: int = 3) -> int:
    """REA as a bare loop (same tournament and one-edge mutation as baselines/rea.py); evaluations made."""
    edge_cdf = np.cumsum([1.0 / (3 * to_node) for to_node, _ in EDGES])
    members: deque = deque()
    now, best, n = 0.0, -math.inf, 0
    while now < seconds:
        if len(members) < population:
            i = int(space.sample(rng))
        else:
            picks = rng.integers(len(members), size=sample)
            ops = space.ops([max((members[k] for k in picks), key=lambda m: m[1])[0]])[0]
            edge = min(int(np.searchsorted(edge_cdf, rng.random(), side="right")), len(EDGES) - 1)
            new = int(rng.integers(N_OPS - 1))
            ops[edge] = new + (new >= ops[edge])
            i = int(space.code_index[ops_to_codes(ops[None])[0]])
        now += costs[i]
        members.append((i, scores[i]))
        if len(members) > population:
            members.popleft()
        best = max(best, scores[i])
        n += 1
    return n


def per_evaluation_ratio(bench, name: str, runs: int, budget: Budget, target: str,
                         rounds: int = 5) -> tuple[float, float, float]:
    """(simulator us/eval, minimal loop us/eval, ratio) for ``random`` or ``rea`` at ``target``.

    The simulator and the bare loop alternate seed by seed, so a change of the machine's load hits both;
    each is timed over ``rounds`` rounds of ``runs`` seeds and the fastest round counts (as ``timeit`` does).
    """
    scores, costs = bench.objective()._scores[target], bench.objective()._costs[target]
    simulate(bench, name, 0, budget, target_fidelity=target)  # warm-up: the registry's imports
    sim, bare = [0.0] * rounds, [0.0] * rounds
    n_sim = n_min = 0
    for r in range(rounds):
        n_sim = n_min = 0
        for seed in range(runs):
            t0 = time.perf_counter()
            n_sim += simulate(bench, name, seed, budget, target_fidelity=target).n_evaluations
            t1 = time.perf_counter()
            rng = np.random.default_rng(seed)
            if name == "random":
                n_min += minimal_random(scores, costs, bench.space.candidates, budget.seconds, rng)
            else:
                n_min += minimal_rea(scores, costs, bench.space, budget.seconds, rng)
            sim[r] += t1 - t0
            bare[r] += time.perf_counter() - t1
    sim_us, bare_us = min(sim) / n_sim * 1e6, min(bare) / n_min * 1e6
    return sim_us, bare_us, sim_us / bare_us


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
    for name in ("random", "rea"):
        sim, bare, ratio = per_evaluation_ratio(bench, name, args.runs, budget, preset.target_fidelity)
        print(f"{name}: {sim:.1f} us per evaluation in the simulator, {bare:.1f} us in a minimal numpy loop "
              f"over the same table: ratio {ratio:.2f} (goal <= 2)")


if __name__ == "__main__":
    main()
