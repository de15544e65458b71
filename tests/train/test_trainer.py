"""Real short training on real offline images (scikit-learn digits) with tiny networks."""
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from mfkdbench.train.data import load_image_data  # noqa: E402
from mfkdbench.train.losses import LossConfig  # noqa: E402
from mfkdbench.train.teacher import TEACHER_ARCH, load_teacher, save_teacher, teacher_hash, train_teacher  # noqa: E402
from mfkdbench.train.trainer import TrainConfig, train_arch  # noqa: E402

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
TINY = TrainConfig(epochs=2, batch_size=64, channels=4, cells=1, seed=3)


@pytest.fixture(scope="module")
def digits():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the suite runs in parallel workers on a small machine
    yield load_image_data("digits")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def teacher(digits):
    return train_teacher(digits, replace(TINY, epochs=1))


def test_digits_are_real_images(digits):
    assert digits.train_x.shape == (1197, 3, 16, 16) and digits.train_x.dtype == np.uint8
    assert len(digits.val_y) == 300 and len(digits.test_y) == 300
    assert set(np.unique(digits.train_y)) == set(range(10))


def test_training_learns_digits(digits):
    result = train_arch(ARCH, digits, replace(TINY, epochs=3))
    assert result.status == "ok"
    assert result.train_loss[-1] < result.train_loss[0]
    assert result.val_acc[-1] > 50 and result.test_acc > 50  # chance is 10 %
    assert len(result.val_acc) == len(result.train_time_s) == 3


def test_same_seed_same_result_bit_for_bit(digits, teacher):
    config = replace(TINY, epochs=1, fraction=0.4)
    runs = [train_arch(ARCH, digits, config, LossConfig("nst"), teacher.net) for _ in range(2)]
    other = train_arch(ARCH, digits, replace(config, seed=4), LossConfig("nst"), teacher.net)
    strip = lambda r: (r.train_loss, r.train_acc, r.val_acc, r.test_acc)  # noqa: E731
    assert strip(runs[0]) == strip(runs[1])
    assert strip(other) != strip(runs[0])


@pytest.mark.parametrize("loss", ["kd", "nst", "at"])
def test_distillation_runs(digits, teacher, loss):
    result = train_arch(ARCH, digits, replace(TINY, epochs=1, fraction=0.5), LossConfig(loss), teacher.net)
    assert result.status == "ok" and np.isfinite(result.train_loss).all()
    if loss == "nst":  # the dropped teacher-teacher term can push the loss below CE alone
        assert result.train_loss[0] < 100


def test_exploding_lr_is_a_failed_run_not_a_crash(digits):
    result = train_arch(ARCH, digits, replace(TINY, lr=1e6))
    assert result.status == "failed"
    assert "loss" in result.reason and ("non-finite" in result.reason or "diverging" in result.reason)
    assert np.isnan(result.test_acc)


def test_teacher_checkpoint_round_trip_keeps_hash(digits, teacher, tmp_path):
    assert str(teacher.net.arch) == TEACHER_ARCH
    save_teacher(teacher, tmp_path / "t.pt")
    loaded = load_teacher(tmp_path / "t.pt", "digits")
    assert loaded.hash == teacher.hash == teacher_hash(loaded.net)
    with torch.no_grad():
        loaded.net.classifier.bias[0] += 1e-3
    assert teacher_hash(loaded.net) != teacher.hash
