"""`mfkdbench compare`: result store, resume after SIGKILL, outputs, statistics and bad input."""
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from click_cli import main
from mfkdbench.errors import UserError

GRID = ["--dataset", "cifar10", "--optimizers", "random,rea", "--budget", "400000", "--quiet"]


def assert_same_runs(a: list, b: list) -> None:
    """Equal cell by cell, but for the measured wall-clock overhead."""
    assert [(r.optimizer, r.seed) for r in a] == [(r.optimizer, r.seed) for r in b]
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x.evaluations, y.evaluations)
        pd.testing.assert_frame_equal(x.incumbents, y.incumbents)
        assert (x.config, x.final_index, x.final_report, x.report_metric) == \
            (y.config, y.final_index, y.final_report, y.report_metric)


def stored_runs(folder):
    from mfkdbench.experiments.store import ResultStore

    with ResultStore(folder, create=False) as store:
        return store.runs()


def expected_runs(optimizers, seeds, budget_s, target="200"):
    from mfkdbench import load_benchmark
    from mfkdbench.search.simulator import Budget, simulate

    bench = load_benchmark("cifar10")
    return [simulate(bench, o, s, Budget(seconds=budget_s), target_fidelity=target) for o in sorted(optimizers) for s in range(seeds)]


def processes_running(text: str) -> list[str]:
    """Ids of live processes whose command line mentions ``text`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(proc.name)
    return found


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One table cache for this module's subprocesses."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ.setdefault("MFKDBENCH_CACHE", str(folder))
    return os.environ["MFKDBENCH_CACHE"]


# ---- store -------------------------------------------------------------------

def test_store_round_trip_and_exactly_once(tmp_path, cache):
    from mfkdbench.experiments.store import ResultStore, encode_run

    run = expected_runs(["rea"], 1, 30000)[0]
    with ResultStore(tmp_path) as store:
        assert store.put("rea/0", "rea", 0, run.config, encode_run(run), 0.1)
        assert not store.put("rea/0", "rea", 0, run.config, b"other", 0.2)  # kept as it was
        [back] = store.runs()
    assert_same_runs([run], [back])
    assert back.overhead_s == run.overhead_s and back.evaluations["index"].dtype == np.int64


@pytest.mark.parametrize("text_dtype", ["str", "string", "object", "str[pyarrow]"])
def test_stored_text_columns_read_back_as_text_whatever_pandas_called_them(text_dtype):
    """Records written from DataFrames name the fidelity column's dtype as their pandas version did."""
    import json
    import zlib

    from mfkdbench.experiments.store import decode_run, encode_run

    run = expected_runs(["rea"], 1, 30000)[0]
    body = json.loads(zlib.decompress(encode_run(run)))
    for frame in ("evaluations", "incumbents"):
        for column in body[frame]["__frame__"]:
            if column[0] == "fidelity":
                column[1] = text_dtype
    back = decode_run(zlib.compress(json.dumps(body).encode()))
    assert_same_runs([run], [back])
    assert back.evaluation_columns["fidelity"].dtype.kind == "U" and back.n_evaluations == len(run.evaluations)


def test_manifest_of_other_data_is_refused_and_kept(tmp_path):
    from mfkdbench.experiments.store import ResultStore

    with ResultStore(tmp_path) as store:
        store.claim({"data_checksum": "aaa", "data_source": "csv:x", "budget_s": 1.0})
        store.claim({"data_checksum": "aaa", "data_source": "csv:./x", "budget_s": 1.0}, ignore=("data_source",))
        with pytest.raises(UserError, match="data_checksum: stored 'aaa', now 'bbb'"):
            store.claim({"data_checksum": "bbb", "data_source": "csv:x", "budget_s": 1.0})
        assert store.manifest()["data_checksum"] == "aaa"


# ---- statistics ----------------------------------------------------------------

def test_holm_and_nemenyi_match_published_values():
    from mfkdbench.report.stats import holm, nemenyi_cd

    assert np.allclose(holm([0.01, 0.04, 0.03, 0.2]), [0.04, 0.09, 0.09, 0.2])
    # Demsar (2006), table 5(a): q_0.05 = 2.569 for k = 4 methods
    assert nemenyi_cd(4, 10) == pytest.approx(2.569 * np.sqrt(4 * 5 / 60), abs=1e-3)


def test_tests_separate_clear_differences_only():
    from mfkdbench.report.stats import bootstrap_ci, friedman, wilcoxon_vs_reference

    rng = np.random.default_rng(1)
    base = rng.normal(90, 1, 20)
    scores = pd.DataFrame({"mfkd": base + 1.0 + rng.normal(0, 0.1, 20), "same": base + 1.0 + rng.normal(0, 0.1, 20),
                           "worse": base})
    wil = wilcoxon_vs_reference(scores, "mfkd").set_index("optimizer")
    assert wil.loc["worse", "significant"] and wil.loc["worse", "losses"] == 20
    assert not wil.loc["same", "significant"]
    fr = friedman(scores)
    assert fr.p_value < 1e-4 and fr.average_ranks.index[-1] == "worse" and fr.average_ranks["worse"] == 3.0
    low, high = bootstrap_ci(base)
    assert low < base.mean() < high and high - low < 2


def test_reference_is_the_users_else_mfkd_else_mf_ce():
    from mfkdbench.errors import UserError
    from mfkdbench.report.render import choose_reference

    assert choose_reference(["rea@200", "mfkd", "mf-ce"])[0] == "mfkd"
    ref, why = choose_reference(["rea@200", "mf-ce", "bananas@200"])
    assert ref == "mf-ce" and "mfkd did not run here" in why
    assert choose_reference(["rea@200", "bananas@200"]) == (None, "neither mfkd nor mf-ce is in the results and no "
                                                             "--reference was given: no Wilcoxon tests")
    assert choose_reference(["rea@200", "mfkd"], "rea@200") == ("rea@200", "given with --reference")
    with pytest.raises(UserError, match="'gp-hf@200' is not in the results"):
        choose_reference(["rea@200", "mfkd"], "gp-hf@200")


def test_default_protocol_holds_every_family_with_checkpoints(tables):
    """The default (head-to-head): 10x NATS-Bench budget, 200-epoch target, checkpoints 1x/3x/10x NATS, and a
    grid of low-fidelity-only, target-only, training-free and multi-fidelity searches; mfkd says why it cannot run."""
    from mfkdbench.experiments.grid import make_protocol, plan_comparison

    protocol = make_protocol("imagenet16-120", None)
    assert (protocol.preset, protocol.budget_s, protocol.target_fidelity) == ("head-to-head", 1_200_000.0, "200")
    assert protocol.checkpoints_s == (120_000.0, 360_000.0, 1_200_000.0)
    plan = plan_comparison(protocol, None, 1)
    runs = [c.optimizer for c in plan.cells]
    libraries = [name for name in ("tpe@200", "asha", "st-bohb", "smac-hb", "smac-mf", "dehb") if name not in plan.skipped]
    assert runs == ["random@ce12", "rea@ce12", "bohb-nb201@ce12", "random@200", "rea@200", "reinforce@200",
                    "local-search@200", "bananas@200", "gp-hf@200", "rea-zc@ce12", "rea-zc@200", "bohb", "hyperband",
                    "mf-ce", "mf-ce-zc", "mf-nas", "topk"] + libraries
    for name in set(("tpe@200", "asha", "st-bohb", "smac-hb", "smac-mf", "dehb")) - set(libraries):  # extra not installed
        assert 'pip install -e ".[' in plan.skipped[name]
    assert "cifar100-kd240" in plan.skipped["mfkd"] and plan.manifest["checkpoints_s"] == list(protocol.checkpoints_s) \
        or plan.manifest["checkpoints_s"] == protocol.checkpoints_s
    kd = plan_comparison(make_protocol("cifar100-kd240", None), None, 1)
    assert {"random@nst12", "rea@nst12", "bohb-nb201@nst12", "mfkd"} <= {c.optimizer for c in kd.cells}
    tpami = plan_comparison(make_protocol("imagenet16-120", None, "nats-tpami21"), None, 1)
    assert "mf-ce" in tpami.skipped and "ce12" in tpami.skipped["mf-ce"]
    assert {c.optimizer for c in tpami.cells} >= {"rea@ce12", "bohb-nb201@ce12"}


def test_time_to_regret():
    from mfkdbench.report.summary import time_to_regret

    inc = pd.DataFrame({"time": [10.0, 50.0, 90.0], "report": [90.0, 93.9, 94.37]})
    assert time_to_regret(inc, 94.37, 0.5) == 50.0
    assert time_to_regret(inc, 94.37, 0.0) == 90.0
    assert time_to_regret(inc, 95.0, 0.0) == np.inf


def test_checkpoint_columns_follow_the_incumbent():
    from mfkdbench.report.summary import checkpoint_ranks, outcomes, report_at, summary_table

    inc = pd.DataFrame({"time": [10.0, 50.0, 90.0], "report": [90.0, 93.9, 94.37]})
    assert np.isnan(report_at(inc, 5.0)) and report_at(inc, 50.0) == 93.9 and report_at(inc, 89.0) == 93.9

    class R:  # the fields of a Run that outcomes reads
        def __init__(self, name, seed, times, reports, fidelities):
            self.optimizer, self.seed, self.overhead_s = name, seed, 0.0
            self.incumbents = pd.DataFrame({"time": times, "report": reports})
            self.final_report = reports[-1]
            costs = [100.0 if f == "200" else 10.0 for f in fidelities]
            self.evaluations = pd.DataFrame({"fidelity": fidelities, "cost": costs})

    runs = [R("a", s, [10.0, 100.0], [90.0, 94.0], ["ce12", "ce12", "200"]) for s in range(2)]
    runs += [R("b", s, [5.0], [92.0], ["200"]) for s in range(2)]
    out = outcomes(runs, 94.0, checkpoints_s=(20.0, 100.0))
    assert list(checkpoint_ranks(out, "final@20").sort_index()) == [2.0, 1.0]
    table = summary_table(out, checkpoints_s=(20.0, 100.0), optimum=94.0).set_index("optimizer")
    assert table.loc["a", "final@20"] == 90.0 and table.loc["a", "regret@100"] == 0.0 and table.loc["a", "rank@100"] == 1
    assert table.loc["a", "evals:ce12"] == 2 and table.loc["a", "share:200"] == pytest.approx(100 / 120)
    assert table.loc["b", "evals:ce12"] == 0 and table.loc["b", "share:200"] == 1.0


# ---- compare end to end ------------------------------------------------------------

def test_compare_writes_tables_and_figures_and_resumes(tmp_path, capsys, cache):
    out = tmp_path / "c10"
    main(["compare", "--dataset", "cifar10", "--seeds", "3", "--optimizers", "random,rea", "--workers", "2",
          "--preset", "nats-hf200",
          "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert "| optimizer | runs | final (mean ± std)" in text and "Friedman test" in text
    summary = pd.read_csv(out / "summary.csv").set_index("optimizer")
    assert list(summary["runs"]) == [3, 3]
    assert_same_runs(stored_runs(out), expected_runs(["random", "rea"], 3, 20000.0, "200"))
    finals = pd.read_csv(out / "outcomes.csv").groupby("optimizer")["final"].mean()
    assert summary.loc["rea@200", "mean"] == pytest.approx(finals["rea@200"])
    assert (out / "summary.tex").read_text().startswith(r"\begin{table}")
    for name in ("regret", "rank", "critical_difference"):
        image = mpimg.imread(out / "figures" / f"{name}.png")
        assert image.shape[0] > 200 and image.std() > 0.05  # a real picture, not a blank canvas
        assert (out / "figures" / f"{name}.pdf").stat().st_size > 1000
    # more seeds: only the new cells run; fewer files deleted: figures re-renders them from the store alone
    before = digest(out / "results.sqlite")
    (out / "summary.md").unlink()
    main(["figures", "--results", str(tmp_path)])
    assert (out / "summary.md").is_file() and digest(out / "results.sqlite") == before
    main(["compare", "--dataset", "cifar10", "--seeds", "4", "--optimizers", "random,rea", "--workers", "1",
          "--preset", "nats-hf200",
          "--out", str(out), "--quiet"])
    assert_same_runs(stored_runs(out), expected_runs(["random", "rea"], 4, 20000.0, "200"))


def test_kill_and_resume_stores_every_cell_exactly_once(tmp_path, cache):
    out = tmp_path / "grid"
    seeds, db = 60, out / "results.sqlite"
    cmd = [sys.executable, "-m", "click_cli", "compare", *GRID, "--seeds", str(seeds), "--workers", "2",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored, deadline = 0, time.time() + 60
    while stored < 4 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
        if db.is_file():
            try:
                with sqlite3.connect(db, timeout=5) as con:
                    stored = con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
            except sqlite3.OperationalError:  # the table is not created yet
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    orphans, deadline = processes_running(str(out)), time.time() + 30
    while orphans and time.time() < deadline:  # the worker processes notice that their parent is gone and exit
        time.sleep(0.1)
        orphans = processes_running(str(out))
    assert not orphans, f"worker processes outlived the killed compare: {orphans}"
    with sqlite3.connect(db) as con:
        at_kill = con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    assert 4 <= at_kill < 2 * seeds, f"the grid was not killed mid-way ({at_kill} cells)"
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = [k for (k,) in con.execute("SELECT key FROM cells")]
    assert sorted(keys) == sorted(f"{o}/{s}" for o in ("random@200", "rea@200") for s in range(seeds))
    assert_same_runs(stored_runs(out), expected_runs(["random", "rea"], seeds, 400000.0))


# ---- bad input -------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--dataset", "cifar10", "--optimizers", "random,nosuch"], "unknown optimizer 'nosuch'"),
    (["--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["--dataset", "cifar10", "--preset", "nosuch"], "unknown preset 'nosuch'"),
    (["--dataset", "cifar10", "--optimizers", "random", "--budget", "9000"], "holds results of other data or settings"),
    (["--dataset", "cifar10", "--optimizers", "random", "--seeds", "0"], "is not in the range 1<=x<=10000"),
    (["--dataset", "cifar10", "--lowfi-store", "no-such-store.jsonl"], "no low-fidelity store at /"),
])
def test_bad_input_one_line_and_store_untouched(args, message, tmp_path, capsys, cache):
    out = tmp_path / "kept"
    main(["compare", "--dataset", "cifar10", "--optimizers", "random", "--seeds", "2", "--budget", "30000",
          "--workers", "1", "--out", str(out), "--quiet"])
    capsys.readouterr()
    before = digest(out / "results.sqlite")
    with pytest.raises(SystemExit) as exc:
        main(["compare", *args, "--out", str(out), "--quiet", "--workers", "1"])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert digest(out / "results.sqlite") == before
    assert len(stored_runs(out)) == 2


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_zero_workers_is_refused(executor):
    from mfkdbench.errors import UserError
    from mfkdbench.experiments.executors import make_executor

    with pytest.raises(UserError, match="--workers must be at least 1, got 0"):
        make_executor(executor, 0)
    assert make_executor("local", 3).workers == 3


def test_figures_without_results_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["figures", "--results", str(tmp_path)])
    assert capsys.readouterr().err.startswith("error: no results in")


def test_time_per_fidelity_covers_every_optimizer():
    from types import SimpleNamespace

    from mfkdbench.report.figures import fidelity_split

    def run(name, fidelities, costs):
        return SimpleNamespace(optimizer=name, evaluations=pd.DataFrame({"fidelity": fidelities, "cost": costs}))

    split, _ = fidelity_split([run("rea@ce12", ["ce12"] * 3, [1.0] * 3), run("mfkd", ["nst12", "200"], [1.0, 3.0])])
    assert split.loc["rea@ce12", "ce12"] == 1.0 and split.loc["mfkd", "200"] == 0.75


def test_identical_rows_are_named():
    from mfkdbench.report.summary import identical_rows

    out = pd.DataFrame({"optimizer": ["a", "a", "b", "b", "c", "c"], "seed": [0, 1] * 3,
                        "final": [70.0, 71.0, 70.0, 71.0, 70.0, 72.0]})
    assert identical_rows(out) == [["a", "b"]]


_CELL_LOG = {}


def _logged_cell(task):
    """:func:`mfkdbench.experiments.grid.run_cell` taking 0.2 s more, logging its key (one a line)."""
    time.sleep(0.2)
    with open(_CELL_LOG["path"], "a") as fh:
        fh.write(task[2].key + "\n")
    return _CELL_LOG["run_cell"](task)


def _compare_recording(out, log, workers, start):
    """A compare process (forked) whose cells are :func:`_logged_cell` into ``log``."""
    from mfkdbench.experiments import grid
    from mfkdbench.experiments.executors import LocalExecutor
    from mfkdbench.experiments.store import ResultStore

    _CELL_LOG.update(path=log, run_cell=grid.run_cell)
    grid.run_cell = _logged_cell
    protocol = grid.make_protocol("cifar10", None, budget_s=30_000)
    plan = grid.plan_comparison(protocol, None, 8, ["random", "rea"])
    start.wait()
    with LocalExecutor(workers) as executor, ResultStore(out) as store:
        grid.run_comparison(plan, store, executor, progress=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_two_compare_processes_share_the_cells(tmp_path, workers):
    """Each claims a cell before running it, so the second takes other cells: every cell runs once."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    start = context.Event()
    logs = [tmp_path / f"log{i}" for i in range(2)]
    procs = [context.Process(target=_compare_recording, args=(tmp_path / "out", log, workers, start)) for log in logs]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    ran = [log.read_text().split() if log.exists() else [] for log in logs]
    assert sorted(ran[0] + ran[1]) == sorted(f"{o}/{s}" for o in ("random@200", "rea@200") for s in range(8))
    assert len(ran[0]) >= 3 and len(ran[1]) >= 3  # both took part
    assert len(stored_runs(tmp_path / "out")) == 16


def test_skipped_searches_of_the_default_grid_are_named_in_the_summary(tmp_path, capsys, cache):
    """mfkd has no KD fidelity on the full CIFAR-100 space: the default grid skips it, and summary.md says so
    and why (also after `figures` re-renders from the store alone)."""
    out = tmp_path / "c100"
    main(["compare", "--dataset", "cifar100", "--seeds", "1", "--budget", "3000", "--workers", "1",
          "--out", str(out), "--quiet"])
    capsys.readouterr()
    line = next(ln for ln in (out / "summary.md").read_text().splitlines() if ln.startswith("- skipped mfkd:"))
    assert "needs the low fidelity 'nst12'" in line
    (out / "summary.md").unlink()
    main(["figures", "--results", str(out)])
    assert line in (out / "summary.md").read_text().splitlines()
