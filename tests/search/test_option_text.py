"""Optimizer options from the command line: ``mfkdbench optimizers`` lists them, ``run --option NAME=VALUE``
reads each value as its option's type and hands it to the search (bad values: tests/test_bad_input.py)."""
import pytest

from click_cli import main
from mfkdbench.search.optimizer import optimizer_class, optimizer_names, optimizer_options, options_from_text


def as_text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


@pytest.mark.parametrize("name", optimizer_names())
def test_every_probe_value_reads_back_from_its_text(name):
    """The option types the command line reads are those the optimizer's own probes use (a number read as a
    word, or an integer as a float, fails here)."""
    probes = optimizer_class(name).option_probes
    typed = options_from_text(name, {key: as_text(value) for key, value in probes.items()})
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


def test_run_option_reaches_the_search(capsys):
    default = run_output(capsys)
    same = run_output(capsys, "--option", "beta=1.0", "--option", "allocation=ratio")
    changed = run_output(capsys, "--option", "allocation=cost", "--option", "beta=3")
    assert default[2].startswith("options: defaults; ")
    assert same[2].startswith("options: beta=1.0, allocation=ratio; ") and same[3:] == default[3:]
    assert changed[2].startswith("options: allocation=cost, beta=3.0; ") and changed[3:] != default[3:]
