"""mf-nas, rea-zc and topk (issue 20): stage-1 rankings, successive halving, warm-up, rounds, options."""
import numpy as np
import pytest

from mfkdbench import load_benchmark
from mfkdbench.errors import UserError
from mfkdbench.search.simulator import Budget, resolve_search, simulate


@pytest.fixture(scope="module")
def c100(data_dir):
    return load_benchmark("cifar100", str(data_dir))


def _ranked(cells, scores):
    """Distinct cells by score, best first, ties in first-seen order (NaN last)."""
    first = {}
    for cell, score in zip(cells, scores):
        first.setdefault(int(cell), -np.inf if np.isnan(score) else score)
    order = {c: i for i, c in enumerate(first)}
    return sorted(first, key=lambda c: (-first[c], order[c]))


@pytest.mark.parametrize("metric,stage1", [("params", "local"), ("naswot", "random"), ("zen", "local")])
def test_mf_nas_trains_the_best_of_its_ranking(c100, metric, stage1):
    run = simulate(c100, "mf-nas", 3, Budget(seconds=40_000), optimizer_options={"metric": metric, "stage1": stage1})
    ev = run.evaluations
    stage1_rows = ev[ev.fidelity == metric]
    assert len(stage1_rows) == 2000 and list(ev.fidelity[:2000]) == [metric] * 2000
    ranked = _ranked(stage1_rows["index"], stage1_rows["score"])
    ce12 = ev[ev.fidelity == "ce12"]
    assert list(ce12["index"]) == ranked[:32]  # descending: an ascending ranking trains the 32 worst
    scores = dict(zip(stage1_rows["index"], stage1_rows["score"]))
    assert min(scores[i] for i in ce12["index"]) >= np.nanmax([scores[i] for i in ranked[32:]])
    top = ev[ev.fidelity == "200"]
    assert list(top["index"]) == _ranked(ce12["index"], ce12["score"])[:2]
    assert run.final_index == int(top["index"][top["score"].idxmax()])
    assert run.config["family"] == "training-free" and run.config["ended"] == "optimizer exhausted"


def test_mf_nas_reaches_the_published_cifar100_cell(c100):
    """MF-NAS (params) finds NB201's best CIFAR-100 cell, 9930 (73.51), as published, within 40,000 s."""
    runs = [simulate(c100, "mf-nas", s, Budget(seconds=40_000)) for s in range(3)]
    assert [r.final_index for r in runs] == [9930] * 3
    assert all(r.evaluation_columns["end"].max() < 30_000 for r in runs)


def test_local_walk_climbs_params(c100):
    """The local stage moves only to strictly better one-edge neighbours or jumps; it reaches the all-3x3 cell."""
    run = simulate(c100, "mf-nas", 0, Budget(evaluations=2000))
    scores = run.evaluation_columns["score"]
    assert scores.max() == pytest.approx(c100.tables.get("cifar100", "params_mb").max())
    assert len(set(run.evaluation_columns["index"].tolist())) < 2000  # a walk revisits cells; random draws would not


def test_rea_zc_seeds_its_population_with_the_warm_up_best(c100):
    run = simulate(c100, "rea-zc@ce12", 1, Budget(seconds=20_000), optimizer_options={"n_warmup": 300})
    ev = run.evaluations
    warm = ev[ev.fidelity == "params"]
    assert len(warm) == 300 and warm["index"].nunique() == 300
    trained = ev[ev.fidelity == "ce12"]
    assert list(trained["index"][:10]) == _ranked(warm["index"], warm["score"])[:10]
    assert run.config["family"] == "training-free" and run.optimizer == "rea-zc@ce12"


def test_topk_rounds(c100):
    run = simulate(c100, "topk", 2, Budget(seconds=100_000), optimizer_options={"n_samples": 20, "k": 2})
    ev = run.evaluations
    fids = list(ev.fidelity)
    assert fids[:22] == ["ce12"] * 20 + ["200"] * 2 and fids[22:44] == ["ce12"] * 20 + ["200"] * 2
    for start in (0, 22):
        cheap = ev.iloc[start:start + 20]
        assert list(ev["index"][start + 20:start + 22]) == _ranked(cheap["index"], cheap["score"])[:2]
    assert ev["index"][ev.fidelity == "ce12"].is_unique
    assert resolve_search(c100, "topk", "200").family == "multi-fidelity"


def test_bad_options_are_one_line(c100):
    with pytest.raises(UserError, match=r"metric must be a training-free fidelity on offer \(flops, naswot, params, zen\)"):
        simulate(c100, "mf-nas", 0, Budget(evaluations=3), optimizer_options={"metric": "synflow"})
    with pytest.raises(UserError, match="stage-1 walk"):
        simulate(c100, "mf-nas", 0, Budget(evaluations=3), optimizer_options={"stage1": "greedy"})
    with pytest.raises(UserError, match="finalists"):
        simulate(c100, "mf-nas", 0, Budget(evaluations=3), optimizer_options={"finalists": 40})
    with pytest.raises(UserError, match="low must be"):
        simulate(c100, "topk", 0, Budget(evaluations=3), optimizer_options={"low": "params"})
