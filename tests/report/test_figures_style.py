"""One look per optimizer, family inference, bands, coincidence notes and the y axis of the anytime figures."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from mfkdbench.report import figures, style


class FakeRun:
    def __init__(self, optimizer, fidelities, target="200", config=None):
        self.optimizer = optimizer
        self.config = {"target_fidelity": target, **(config or {})}
        self.evaluations = pd.DataFrame({"fidelity": fidelities, "cost": [1.0] * len(fidelities)})


def test_family_recorded_else_inferred():
    assert style.family(FakeRun("rea@ce12", ["ce12"], config={"family": "target-only"})) == "target-only"
    assert style.family(FakeRun("hyperband", ["200"])) == "multi-fidelity"  # registered as multi-fidelity
    assert style.family(FakeRun("random", ["ce12", "200"])) == "multi-fidelity"  # used two fidelities
    assert style.family(FakeRun("random", ["200", "200"])) == "target-only"
    assert style.family(FakeRun("rea@ce12", ["ce12"])) == "low-fidelity-only"
    assert style.family(FakeRun("no-such-method", ["nst12"])) == "low-fidelity-only"


def test_colour_by_base_name_distinct_and_stable():
    assert style.optimizer_color("rea@ce12") == style.optimizer_color("rea@200") == style.optimizer_color("rea")
    assert style.optimizer_color("someone-new") == style.optimizer_color("someone-new@ce12")
    low, target = style.line_style("rea@ce12", "low-fidelity-only"), style.line_style("rea@200", "target-only")
    assert low["linestyle"] != target["linestyle"]
    assert style.line_style("random@ce12", "low-fidelity-only")["linestyle"] != \
        style.line_style("random@nst12", "low-fidelity-only")["linestyle"]
    assert style.line_style("rea@200", "training-free")["linestyle"] not in \
        (target["linestyle"], low["linestyle"], style.LINESTYLES["multi-fidelity"])
    mfkd, other = style.line_style("mfkd", "multi-fidelity"), style.line_style("mf-ce", "multi-fidelity")
    assert mfkd["lw"] > other["lw"] and mfkd["zorder"] > other["zorder"]
    assert style.legend_order(["rea", "mf-ce", "mfkd", "random@ce12"],
                              {"rea": "target-only", "mf-ce": "multi-fidelity", "mfkd": "multi-fidelity",
                               "random@ce12": "low-fidelity-only"}) == ["mfkd", "mf-ce", "random@ce12", "rea"]


def test_no_two_registered_optimizers_share_a_look():
    from mfkdbench.search.optimizer import optimizer_names

    looks = style.looks()
    assert set(optimizer_names()) <= set(looks)
    assert len(set(looks.values())) == len(looks)
    assert looks["mfkd"] == ("#000000", "o") and looks["random"][0] != style.CONTEXT_GREY


def test_newly_registered_optimizers_get_unused_looks_and_leave_the_others_alone(monkeypatch):
    before = style.looks()
    new = [f"baseline-{i:02d}" for i in range(30)]  # as many as the library and training-free baselines, twice
    monkeypatch.setattr(style, "_registered", lambda: tuple(before) + tuple(new))
    after = style.looks()
    assert len(set(after.values())) == len(after) == len(before) + 30
    assert {n: after[n] for n in style.FIXED_LOOKS} == style.FIXED_LOOKS
    assert len({after[n][0] for n in new[:10]}) >= 8  # spread over the colours, not one colour with many markers
    assert all(after[n][0] != "#000000" for n in new)  # black stays MF-KD's
    assert style.look("never-registered") not in set(after.values())


def test_labels_no_optimizer_registers_get_looks_of_their_own(monkeypatch):
    """Results of plugins no longer installed: 40 unknown names (a hash of the name collides among them)."""
    monkeypatch.setattr(style, "_UNREGISTERED", [])
    registered = set(style.looks().values())
    unknown = {name: style.look(f"{name}@ce12") for name in (f"old-plugin-{i:02d}" for i in range(40))}
    assert len(set(unknown.values())) == 40 and not set(unknown.values()) & registered
    assert style.look("old-plugin-00@200") == unknown["old-plugin-00"]  # stable once given


def test_fidelity_colours_fixed_and_curve_points_lighter():
    assert style.fidelity_color("ce12") == style.fidelity_color("ce12")
    assert len({style.fidelity_color(f) for f in ("200", "ce12", "nst12")}) == 3
    early, late = np.mean(style.fidelity_color("ce12@1")), np.mean(style.fidelity_color("ce12@11"))
    assert early > late > np.mean(style.fidelity_color("ce12"))  # lighter for fewer epochs


def test_bands_median_iqr_and_mean_bootstrap():
    values = np.array([[1.0, 4.0], [2.0, np.nan], [3.0, np.nan], [10.0, np.nan]])
    iqr = figures.centre_and_band(values, "iqr")
    assert iqr[:, 0] == pytest.approx([2.5, 1.75, 4.75])
    assert np.isnan(iqr[:, 1]).all()  # fewer than half of the seeds have a result
    ci = figures.centre_and_band(values, "ci")
    assert ci[0, 0] == pytest.approx(4.0) and 1.0 <= ci[1, 0] < 4.0 < ci[2, 0] <= 10.0


def test_coinciding_curves_are_named():
    grid = np.geomspace(100, 1e5, 100)
    a = np.linspace(5, 1, 100)
    b = a.copy()
    b[60:] -= 0.5
    notes = figures.coincidences({"random": a, "rea": b, "bohb": a.copy(), "mfkd": a[::-1]}, grid, "time")
    assert notes["rea"] == f"= random until {grid[59]:,.0f} s"
    assert notes["bohb"] == "= random" and "mfkd" not in notes and "random" not in notes


def test_regret_axis_from_the_data():
    fig, ax = plt.subplots()
    floor = figures._regret_axis(ax, np.array([0.0, 0.2, 1.0]), np.array([5.0, 12.0]))
    assert ax.get_yscale() == "log" and floor == pytest.approx(0.2 / 1.5) and ax.get_ylim()[1] == pytest.approx(18)
    figures._regret_axis(ax := plt.subplots()[1], np.array([2.0, 2.5]), np.array([3.0, 4.0]))
    assert ax.get_yscale() == "linear" and ax.get_ylim()[1] < 4.5
    plt.close("all")


def test_regret_by_evaluations_stops_after_the_runs_last_evaluation():
    run = FakeRun("rea", ["200"] * 3)
    run.incumbents = pd.DataFrame({"time": [5.0, 9.0], "n_evals": [1, 3], "report": [90.0, 93.0]})
    assert figures.regret_at(run, 94.0, np.array([1, 2, 3, 4]), "evaluations") == pytest.approx([4, 4, 1, np.nan],
                                                                                             nan_ok=True)
    assert figures.regret_at(run, 94.0, np.array([1.0, 6.0, 100.0]), "time") == pytest.approx([np.nan, 4, 1],
                                                                                          nan_ok=True)


def test_family_panels_with_two_dozen_searches_give_each_curve_its_own_look(tmp_path, monkeypatch):
    names = {"mfkd": "multi-fidelity", "mf-ce": "multi-fidelity", "hyperband": "multi-fidelity", "bohb": "multi-fidelity",
             "smac-like": "multi-fidelity", "dehb-like": "multi-fidelity", "zc-top": "training-free",
             "zc-rea": "training-free", "zc-ce": "training-free", "gp-hf@200": "target-only",
             "bananas@200": "target-only", "reinforce@200": "target-only", "local-search@200": "target-only",
             "tpe-like@200": "target-only", "new-family-search": "some-new-family"}
    names.update({f"{b}@{f}": "low-fidelity-only" for b in ("random", "rea", "bohb-nb201") for f in ("ce12", "nst12")})
    names.update({"random@200": "target-only", "rea@200": "target-only", "bohb-nb201@200": "target-only"})
    assert len(names) == 24
    registered = style._registered()  # the made-up names registered beside the real ones, as new baseline files are
    monkeypatch.setattr(style, "_registered", lambda: registered + tuple(style.base_name(n) for n in names))
    grid = np.geomspace(10, 1e4, 30)
    rows = [{"optimizer": n, "seed": s, "time": t, "regret": 5 / (1 + i + s + t / 100) if t > 10 * (1 + i % 3) else np.nan}
            for i, n in enumerate(names) for s in range(3) for t in grid]
    frame = pd.DataFrame(rows)
    for draw in (lambda: figures.plot_anytime(frame, tmp_path / "regret", "t", "acc", names),
                 lambda: figures.plot_ranks(frame, tmp_path / "rank", "t", names)):
        captured = {}
        real_save = figures.save
        figures.save = lambda fig, stem: captured.setdefault("fig", fig) and []
        try:
            draw()
        finally:
            figures.save = real_save
        axes = [ax for ax in captured["fig"].axes if ax.get_visible()]
        assert len(axes) == 5  # multi-fidelity, training-free, low-fidelity-only, target-only, some-new-family
        for ax in axes:
            lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
            looks = [(ln.get_color(), ln.get_marker(), str(ln._dash_pattern)) for ln in lines]
            assert len(set(looks)) == len(looks), ax.get_title()
            drawn = {ln.get_label().split(" ")[0] for ln in lines}
            assert {"mfkd", "mf-ce"} <= drawn  # MF-KD and its ablation in every panel
        plt.close("all")
    drawn = {ln.get_label().split(" ")[0] for ax in axes for ln in ax.get_lines()}
    assert set(names) <= drawn


def test_a_curve_with_no_point_on_the_log_axis_is_drawn_without_failing(tmp_path):
    """A search at regret 0 from its first point has nothing on the log axis: saving the figure used to fail in
    matplotlib's fractional ``markevery`` (an IndexError traceback at the end of ``compare``)."""
    grid = np.geomspace(10, 1e4, 20)
    stats = {"mf-nas": (np.zeros(20), np.zeros(20), np.zeros(20)),
             "rea@200": (np.linspace(3, 1, 20), np.linspace(2, 0.5, 20), np.linspace(4, 1.5, 20))}
    fig, ax = plt.subplots()
    ax.set_yscale("log")
    labels, reached = figures.draw_anytime(ax, grid, stats, "time", {"mf-nas": "training-free"}, floor=0.01)
    fig.savefig(tmp_path / "f.png")
    plt.close(fig)
    assert reached and set(labels) == {"mf-nas", "rea@200"}
