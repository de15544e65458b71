"""Results as data: mfkdbench.results.load, export to CSV and Parquet, --json of run, arch and data info."""
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from click_cli import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small comparison: a multi-fidelity and two target-only optimizers, 3 seeds."""
    from mfkdbench.report.pipeline import compare

    out = tmp_path_factory.mktemp("results") / "c10"
    compare("cifar10", 3, ["random", "rea", "hyperband"], budget_s=60000, workers=1, out=out, progress=False,
            reference="hyperband")
    return out


def stored(folder):
    from mfkdbench.experiments.store import ResultStore

    with ResultStore(folder, create=False) as store:
        return store.manifest(), store.runs()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_against_store(tables, folder):
    runs_table, trajectories, evaluations = tables["runs"], tables["trajectories"], tables["evaluations"]
    manifest, runs = stored(folder)
    assert len(runs_table) == len(runs) == 9
    by_key = runs_table.set_index(["optimizer", "seed"])
    for r in runs:
        row = by_key.loc[(r.optimizer, r.seed)]
        assert row["final_report_pct"] == pytest.approx(r.final_report)
        assert row["regret_pp"] == pytest.approx(manifest["optimum"] - r.final_report)
        assert row["evaluations"] == len(r.evaluations) and row["final_index"] == r.final_index
        mine = evaluations[(evaluations["optimizer"] == r.optimizer) & (evaluations["seed"] == r.seed)]
        np.testing.assert_allclose(mine["cost_s"].to_numpy(), r.evaluations["cost"].to_numpy())
        assert list(mine["fidelity"].astype(str)) == list(r.evaluations["fidelity"])
        path = trajectories[(trajectories["optimizer"] == r.optimizer) & (trajectories["seed"] == r.seed)]
        np.testing.assert_allclose(path["report_pct"].to_numpy(), r.incumbents["report"].to_numpy())
        np.testing.assert_allclose(path["time_s"].to_numpy(), r.incumbents["time"].to_numpy())
        used = tables["fidelities"].query("optimizer == @r.optimizer and seed == @r.seed").set_index("fidelity")
        counts = r.evaluations["fidelity"].value_counts()
        assert {str(k): v for k, v in used["evaluations"].items()} == {str(k): v for k, v in counts.items()}
        assert used["simulated_s"].sum() == pytest.approx(r.evaluations["cost"].sum())
    assert set(by_key["family"]) == {"multi-fidelity", "target-only"}
    assert by_key.loc[("hyperband", 0), "family"] == "multi-fidelity"
    assert by_key.loc[("rea@200", 0), "method"] == "rea" and str(by_key.loc[("rea@200", 0), "search_fidelity"]) == "200"
    assert pd.isna(by_key.loc[("hyperband", 0), "search_fidelity"])
    never = ~runs_table["reached_optimum"].astype(bool)
    assert never.any() and runs_table.loc[never, "t_optimum_s"].isna().all()  # missing, not inf
    assert runs_table.loc[~never, "t_optimum_s"].notna().all()
    points = tables["checkpoints"]
    assert len(points) == 9 * len(manifest["checkpoints_s"] or [1])
    assert (points["has_result"] == points["report_pct"].notna()).all()


def test_load_returns_tidy_tables_with_units_and_no_inf(folder):
    import mfkdbench.results as results

    loaded = results.load(folder)
    check_against_store({name: getattr(loaded, name) for name in results.TABLES}, folder)
    assert loaded.manifest["benchmark"] == "cifar10" and (loaded.trajectories["regret_pp"] >= 0).all()
    runs = loaded.runs
    assert runs["t_optimum_s"].dtype == float and runs["reached_optimum"].dtype == bool
    assert not np.isinf(runs.select_dtypes("number").to_numpy()).any()
    assert not any(c.startswith(("evals:", "time:")) for c in runs.columns)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_reads_back_equal_to_the_store(fmt, folder, tmp_path):
    import mfkdbench.results as results

    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    before = digest(folder / "results.sqlite")
    main(["export", "--results", str(folder), "--format", fmt, "--out", str(tmp_path)])
    names = {"search_fidelity": str, "fidelity": str, "target_fidelity": str}  # "200" is a name, not a number
    read = (lambda path: pd.read_csv(path, dtype=names)) if fmt == "csv" else pd.read_parquet
    check_against_store({name: read(tmp_path / f"{name}.{fmt}") for name in results.TABLES}, folder)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    store_manifest = stored(folder)[0]
    assert manifest["data_checksum"] == store_manifest["data_checksum"]
    assert manifest["data_source"] == store_manifest["data_source"].split(":", 1)[0]  # its kind, no path
    data_path = store_manifest["data_source"].split(":", 1)[1]
    assert data_path.startswith("/")  # the store keeps it; no exported file does
    for path in tmp_path.iterdir():
        text = path.read_bytes().decode(errors="replace")
        assert data_path not in text and str(folder) not in text
    assert digest(folder / "results.sqlite") == before


def test_export_of_a_folder_without_results_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--results", str(tmp_path), "--format", "csv"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error: no results in")
    assert not (tmp_path / "export").exists()


def test_run_json_reads_back_equal_to_the_simulation(capsys):
    from mfkdbench import Budget, load_benchmark, simulate

    main(["run", "--optimizer", "rea@ce12", "--dataset", "cifar100", "--preset", "nb201-iclr20", "--seed", "3", "--json"])
    record = json.loads(capsys.readouterr().out)
    run = simulate(load_benchmark("cifar100"), "rea@ce12", 3, Budget(seconds=12000), target_fidelity="ce12")
    assert (record["final_index"], record["final_report"]) == (run.final_index, pytest.approx(run.final_report))
    pd.testing.assert_frame_equal(pd.DataFrame(record["evaluations"]), run.evaluations, check_dtype=False)
    pd.testing.assert_frame_equal(pd.DataFrame(record["incumbents"]), run.incumbents, check_dtype=False)
    assert record["config"]["target_fidelity"] == "ce12" and "overhead_s" not in record


def test_arch_and_data_info_json(capsys, tables):
    main(["arch", "9930", "--json"])
    record = json.loads(capsys.readouterr().out)
    assert record["index"] == 9930 and record["arch"].startswith("|nor_conv_3x3~0|")
    assert record["datasets"]["cifar10"]["metrics"]["test_acc_200"] == pytest.approx(tables.get("cifar10", "test_acc_200")[9930])
    assert record["datasets"]["cifar100"]["fidelities"]["ce12"]["score"] == pytest.approx(tables.get("cifar100", "val_acc_12")[9930])
    main(["data", "info", "--json"])
    info = json.loads(capsys.readouterr().out)
    assert info["archs"] == 15625 and info["datasets"]["cifar10"]["optimum"] == pytest.approx(94.37333, abs=1e-4)
    assert "ce12@12" in info["datasets"]["cifar10"]["fidelities"]


def test_index_page_has_contents_protocol_html_tables_and_captioned_figures_in_order(folder):
    from mfkdbench.report.paper import write_index
    from mfkdbench.report.render import FIGURES

    page = write_index(folder.parent, [folder.name], [], {}).read_text()
    assert "<nav><strong>Contents</strong>" in page and f"<a href='#{folder.name}'>" in page
    assert "|---" not in page and "<pre>| " not in page  # no Markdown left
    assert page.count("<table") >= 5  # protocol, families, summary, Wilcoxon, ranks
    assert "60,000 simulated s" in page and "<td>hyperband</td>" in page and "multi-fidelity" in page
    positions = [page.index(f"figures/{stem}.png") for stem in FIGURES if (folder / "figures" / f"{stem}.png").is_file()]
    assert len(positions) == 5 and positions == sorted(positions)
    assert "<strong>Figure 1.</strong> c10: Anytime regret" in page and "10.1109/ACCESS.2023.3234810" in page
    section = page[page.index("<section id='c10'>"):]
    assert section.index("class='verdict'") < section.index("<h3>Protocol</h3>")  # the verdict first
    assert "<li>multi-fidelity: hyperband</li>" in section and "<p>- " not in page  # notes as a real list
    assert "class=wide><a href='c10/figures/regret.png'>" in section  # shown wider than the text


def test_the_same_verdict_in_markdown_html_and_the_terminal(folder):
    import pandas as pd

    from mfkdbench.report.paper import markdown_html
    from mfkdbench.report.render import render

    rendered = render(folder, "hyperband")
    verdict = (folder / "verdict.md").read_text()
    assert rendered.text.startswith("# cifar10\n\n" + verdict) and (folder / "summary.md").read_text().count(verdict) == 1
    table = pd.read_csv(folder / "verdict.csv")
    best = table[table.role == "best"].iloc[-1]
    summary = pd.read_csv(folder / "summary.csv")
    last = f"final@{table.checkpoint_s.max():.0f}"  # the budget's checkpoint, as the summary's last "at" column
    assert best.optimizer == summary.sort_values(last, ascending=False).iloc[0]["optimizer"]
    assert f"best {best.optimizer} ({best.mean_pct:.2f} %)" in verdict.splitlines()[-1]
    assert markdown_html(verdict).count("<li>") == table.checkpoint_s.nunique()


def test_panel_figure_and_fidelity_split_cover_every_optimizer(folder, tmp_path):
    import matplotlib.image as mpimg

    from mfkdbench.report import figures
    from mfkdbench.report.render import render_panels

    _, runs = stored(folder)
    split, evaluations = figures.fidelity_split(runs)
    assert set(split.index) == {"hyperband", "random@200", "rea@200"}
    assert split.loc["random@200", "200"] == 1.0 and 0 < split.loc["hyperband", "200"] < 1
    assert split.sum(axis=1).to_numpy() == pytest.approx([1.0, 1.0, 1.0])
    assert evaluations["rea@200"] == pytest.approx(np.mean([len(r.evaluations) for r in runs if r.optimizer == "rea@200"]))
    png = render_panels([folder, folder], tmp_path / "regret_all")[0]
    image = mpimg.imread(png)
    assert image.shape[1] > image.shape[0] > 600 and image.std() > 0.05  # two columns of two rows, a real picture
