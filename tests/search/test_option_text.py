"""Optimizer options from the command line: ``mfkdbench optimizers`` lists them, ``run --option NAME=VALUE``
reads each value as its option's type and hands it to the search (bad values: tests/test_bad_input.py)."""
import pytest

from click_cli import main
from mfkdbench.search.optimizer import (optimizer_class, optimizer_names, optimizer_options, option_text,
                                        options_from_text)


@pytest.mark.parametrize("name", optimizer_names())
def test_every_probe_value_reads_back_from_its_text(name):
    """The option types the command line reads are those the optimizer's own probes use (a number read as a
    word, or an integer as a float, fails here)."""
    probes = optimizer_class(name).option_probes
    typed = options_from_text(name, {key: option_text(value) for key, value in probes.items()})
    assert typed == {key: list(v) if isinstance(v, tuple) else v for key, v in probes.items()}
    assert all(type(typed[key]) is type(value) for key, value in probes.items())


def test_optimizers_lists_every_optimizer_with_its_options_and_defaults(capsys):
    main(["optimizers"])
    out = capsys.readouterr().out.splitlines()
    names = [line.split(":")[0] for line in out if not line.startswith(" ")]
    assert names == optimizer_names()
    listed = dict(zip(names, (line for line in out if line.startswith("    options: "))))
    assert listed["mf-ce"] == ("    options: encoding=onehot, acquisition=ucb, beta=1.0, allocation=ratio, ratio=auto, "
                               "max_low_share=auto, candidates=all, n_init_high=3, n_init_low=10, low_fidelity=auto")
    assert listed["gp-hf"] == "    options: encoding=onehot, acquisition=ucb, beta=1.0, candidates=all, n_init_high=3"
    assert listed["random"] == "    options: none"
    for name in names:
        shown = set() if listed[name].endswith(": none") else {
            item.split("=")[0] for item in listed[name].split(": ", 1)[1].split(", ")}
        assert shown == set(optimizer_options(name)) - set(optimizer_class(name).refused_options)


def run_output(capsys, *extra):
    main(["run", "--optimizer", "mf-ce", "--dataset", "cifar100-kd240", "--evaluations", "40", *extra])
    return capsys.readouterr().out.splitlines()


def test_run_takes_a_spec_with_options_and_more_options_beside_it(capsys):
    given = run_output(capsys, "--option", "allocation=cost", "--option", "beta=3")
    main(["run", "--optimizer", "mf-ce[allocation=cost]", "--dataset", "cifar100-kd240", "--evaluations", "40",
          "--option", "beta=3"])
    mixed = capsys.readouterr().out.splitlines()
    assert mixed[0].startswith("mf-ce[allocation=cost] on cifar100-kd240")
    assert mixed[2].startswith("options: allocation=cost, beta=3.0; ") and mixed[3:] == given[3:]


def test_run_option_reaches_the_search(capsys):
    default = run_output(capsys)
    same = run_output(capsys, "--option", "beta=1.0", "--option", "allocation=ratio")
    changed = run_output(capsys, "--option", "allocation=cost", "--option", "beta=3")
    assert default[2].startswith("options: defaults; ")
    assert same[2].startswith("options: beta=1.0, allocation=ratio; ") and same[3:] == default[3:]
    assert changed[2].startswith("options: allocation=cost, beta=3.0; ") and changed[3:] != default[3:]


@pytest.mark.parametrize("spec,label,options", [
    ("mfkd[beta=2,allocation=cost]", "mfkd[allocation=cost,beta=2.0]", {"allocation": "cost", "beta": 2.0}),
    ("hyperband[rungs=ce12,nst12,200,eta=2]", "hyperband[eta=2,rungs=ce12,nst12,200]",
     {"eta": 2, "rungs": ["ce12", "nst12", "200"]}),
    ("rea[population_size=20]@ce12", "rea[population_size=20]@ce12", {"population_size": 20}),
    ("rea@ce12", "rea@ce12", {}),
])
def test_a_search_spec_names_its_options_and_its_label_reads_back(spec, label, options):
    from mfkdbench import load_benchmark
    from mfkdbench.search.simulator import resolve_search

    bench = load_benchmark("cifar100-kd240")
    search = resolve_search(bench, spec, "200")
    assert (search.label, search.options) == (label, options)
    again = resolve_search(bench, search.label, "200")
    assert (again.label, again.options) == (label, options)


def test_a_spec_with_options_runs_as_the_options_given_apart():
    from mfkdbench import load_benchmark
    from mfkdbench.search.simulator import Budget, simulate

    bench = load_benchmark("cifar100-kd240")
    named = simulate(bench, "mf-ce[allocation=cost]", 0, Budget(evaluations=40))
    given = simulate(bench, "mf-ce", 0, Budget(evaluations=40), optimizer_options={"allocation": "cost"})
    plain = simulate(bench, "mf-ce", 0, Budget(evaluations=40))
    assert named.optimizer == "mf-ce[allocation=cost]" and named.config["optimizer_options"] == {"allocation": "cost"}
    assert named.evaluations.equals(given.evaluations) and not named.evaluations.equals(plain.evaluations)


def test_compare_runs_two_settings_of_one_optimizer_as_two_searches(tmp_path):
    import mfkdbench.results as results
    from mfkdbench.report import style

    out = tmp_path / "variants"
    main(["compare", "--dataset", "cifar100-kd240", "--optimizers", "mf-ce,mf-ce[allocation=cost],rea@ce12",
          "--seeds", "2", "--workers", "1", "--quiet", "--budget", "60000", "--out", str(out)])
    runs = results.load(out).runs
    assert sorted(set(runs.optimizer)) == ["mf-ce", "mf-ce[allocation=cost]", "rea@ce12"]
    finals = runs.set_index(["optimizer", "seed"]).final_report_pct
    assert (finals["mf-ce"] != finals["mf-ce[allocation=cost]"]).any()
    assert style.look("mf-ce[allocation=cost]") != style.look("mf-ce")
