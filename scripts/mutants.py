"""Plant single bugs in the numeric core (optimizers, co-kriging, simulator, statistics) and count how many the
tests catch.

Each mutant replaces one exact piece of source text in a scratch copy of the repository (the working tree is
never touched), runs the tests named for it there (``pytest -x``), and puts the file back. A mutant is caught
when those tests fail. Usage (takes about 15 minutes on 2 cores)::

    python scripts/mutants.py                 # every mutant
    python scripts/mutants.py rea-sample      # the mutants whose label contains this text
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

OPTIONS = "tests/search/test_options.py"
CLOCK = ["tests/search/test_simulator.py", "tests/search/test_clock.py"]
STATS = ["tests/report/test_stats.py", "tests/experiments/test_compare.py::test_holm_and_nemenyi_match_published_values",
         "tests/experiments/test_compare.py::test_tests_separate_clear_differences_only"]
COKRIGING = ["tests/mfkd/test_cokriging.py"]

#: (label, file, original text, planted text, tests to run)
MUTANTS = [
    # optimizers: an option read and then ignored, or a rule changed
    ("rea-sample-size-ignored", "baselines/rea.py", "size=self.sample_size)", "size=3)", [OPTIONS + "::test_every_option_changes_the_search[rea-sample_size]"]),
    ("rea-youngest-dies", "baselines/rea.py", "self.population.popleft()", "self.population.pop()", ["tests/search/test_conformance.py", "tests/baselines/test_rea.py"]),
    ("reinforce-momentum-ignored", "baselines/reinforce.py", "self.momentum = float(learning_rate), float(ema_momentum)", "self.momentum = float(learning_rate), 0.9", [OPTIONS + "::test_every_option_changes_the_search[reinforce-ema_momentum]"]),
    ("bananas-k-ignored", "baselines/bananas.py", "[:self.k]]", "[:10]]", [OPTIONS + "::test_every_option_changes_the_search[bananas-k]"]),
    ("bohb-min-bandwidth-ignored", "baselines/bohb.py", "min_bandwidth=self.min_bandwidth)", "min_bandwidth=1e-3)", [OPTIONS + "::test_every_option_changes_the_search[bohb-min_bandwidth]"]),
    ("bohb-top-n-ignored", "baselines/bohb.py", "n_good = max(min_points_in_model, top_n_percent * n // 100)", "n_good = max(min_points_in_model, 15 * n // 100)", ["tests/baselines/test_hyperband_bohb.py", OPTIONS + "::test_every_option_changes_the_search[bohb-top_n_percent]"]),
    ("hyperband-bracket-size", "baselines/hyperband.py", "math.ceil(n_rungs / (s + 1) * eta**s)", "math.ceil(n_rungs / (s + 1) * eta**max(s - 1, 0))", ["tests/baselines/test_hyperband_bohb.py"]),
    ("local-search-num-init-ignored", "baselines/local_search.py", "self.num_init = int(num_init)", "self.num_init = 1", [OPTIONS + "::test_every_option_changes_the_search[local-search-num_init]"]),
    ("gp-beta-ignored", "mfkdbench/mfkd/searches.py", "self.beta, rng=self.rng, sign=sign)", "1.0, rng=self.rng, sign=sign)", [OPTIONS + "::test_every_option_changes_the_search[mfkd-beta]"]),
    ("gp-max-low-share-ignored", "mfkdbench/mfkd/searches.py", "low_over = spent[LOW] > self.max_low_share *", "low_over = spent[LOW] > 0.5 *", [OPTIONS + "::test_every_option_changes_the_search[mfkd-max_low_share]"]),
    ("ucb-beta-ignored", "mfkdbench/mfkd/acquisition.py", "return mean + beta * std", "return mean + std", [OPTIONS + "::test_every_option_changes_the_search[gp-hf-beta]"]),
    # co-kriging
    ("cokriging-low-noise-dropped", "mfkdbench/mfkd/cokriging.py", "table[3 * nv] = c_l + s_l + _JITTER", "table[3 * nv] = c_l + _JITTER", COKRIGING),
    ("cokriging-rho-once", "mfkdbench/mfkd/cokriging.py", "table[3 * nv + 1] = rho * rho * c_l + _JITTER", "table[3 * nv + 1] = rho * c_l + _JITTER", COKRIGING),
    ("cokriging-cross-cov-level", "mfkdbench/mfkd/cokriging.py", "out[:, self.n_low:] = k_l(d_high) * dtype(rho ** (level + 1))", "out[:, self.n_low:] = k_l(d_high) * dtype(rho ** level)", COKRIGING),
    # simulator: the clock and the incumbent
    ("clock-fast-path-low-fidelity-half-price", "mfkdbench/search/simulator.py", "            end = now + cost\n", "            end = now + (cost if fidelity == '200' else cost / 2)\n", CLOCK),
    ("clock-event-loop-low-fidelity-half-price", "mfkdbench/search/simulator.py", "(self.now + cost, trial.trial_id", "(self.now + (cost if fidelity == '200' else cost / 2), trial.trial_id", CLOCK),
    ("clock-event-loop-cost-misrecorded", "mfkdbench/search/simulator.py", "trial.trial_id, worker, self.now, trial, score, cost))", "trial.trial_id, worker, self.now, trial, score, cost / 2))", CLOCK),
    ("clock-fast-path-multi-fidelity-low-half-price", "mfkdbench/search/simulator.py", "            end = now + cost\n", "            end = now + (cost / 2 if opt.multi_fidelity and fidelity != opt.high else cost)\n", CLOCK),
    ("clock-event-loop-multi-fidelity-low-half-price", "mfkdbench/search/simulator.py", "(self.now + cost, trial.trial_id", "(self.now + (cost / 2 if self.opt.multi_fidelity and fidelity != self.opt.high else cost), trial.trial_id", CLOCK),
    ("incumbent-ties-keep-the-later", "mfkdbench/search/simulator.py", "score <= best[1])):", "score < best[1])):", CLOCK),
    # statistics
    ("wilcoxon-unpaired", "mfkdbench/report/stats.py", "stats.wilcoxon(scores[name], scores[reference],", "stats.wilcoxon(scores[name], np.sort(scores[reference].to_numpy()),", STATS),
    ("pairs-keep-unpaired-seeds", "mfkdbench/report/summary.py", 'return outcome.pivot(index="seed", columns="optimizer", values=column).dropna()', 'return outcome.pivot(index="seed", columns="optimizer", values=column).fillna(0.0)', STATS),
    ("holm-not-monotone", "mfkdbench/report/stats.py", "adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])", "adjusted = (m - np.arange(m)) * p[order]", STATS),
    ("holm-factor-off-by-one", "mfkdbench/report/stats.py", "adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])", "adjusted = np.maximum.accumulate((m - np.arange(m) - 1) * p[order])", STATS),
    ("friedman-ranks-reversed", "mfkdbench/report/stats.py", 'ranks = scores.rank(axis=1, ascending=False, method="average")', 'ranks = scores.rank(axis=1, ascending=True, method="average")', STATS),
    ("nemenyi-without-sqrt2", "mfkdbench/report/stats.py", "q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)", "q = stats.studentized_range.ppf(1 - alpha, k, np.inf)", STATS),
    ("bootstrap-confidence-ignored", "mfkdbench/report/stats.py", "confidence_level=confidence,", "confidence_level=0.5,", STATS),
]


def scratch_copy() -> Path:
    root = Path(tempfile.mkdtemp(prefix="mutants-"))
    shutil.copytree(REPO, root / "repo", ignore=shutil.ignore_patterns(".git", "__pycache__", "results", "paper"))
    return root / "repo"


def run_mutant(repo: Path, label: str, rel: str, old: str, new: str, tests: list[str]) -> tuple[bool, str]:
    path = repo / rel
    original = path.read_text()
    if original.count(old) != 1:
        raise SystemExit(f"{label}: the text to replace occurs {original.count(old)} times in {rel}")
    path.write_text(original.replace(old, new))
    try:
        env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    finally:
        path.write_text(original)
    failed = [line.split(" ")[1] for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return proc.returncode != 0, failed[0] if failed else proc.stdout.strip().splitlines()[-1]


def main(patterns: list[str]) -> None:
    repo = scratch_copy()
    chosen = [m for m in MUTANTS if not patterns or any(p in m[0] for p in patterns)]
    caught = 0
    for label, *mutant in chosen:
        t0 = time.perf_counter()
        hit, detail = run_mutant(repo, label, *mutant)
        caught += hit
        print(f"{'caught' if hit else 'MISSED'}  {label:40s} {time.perf_counter() - t0:5.0f} s  {detail}", flush=True)
    print(f"{len(chosen)} planted, {caught} caught")
    shutil.rmtree(repo.parent)


if __name__ == "__main__":
    main(sys.argv[1:])
