"""The training recipe's numbers against NB201's: per-epoch learning rate, optimizer settings, data pipeline."""
import math
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from mfkdbench.train.data import load_image_data  # noqa: E402
from mfkdbench.train.trainer import TrainConfig, train_arch  # noqa: E402

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def digits():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_image_data("digits")
    torch.set_num_threads(threads)


@pytest.fixture
def sgd_steps(monkeypatch):
    """Every ``SGD.step`` call's hyper-parameters, as the optimizer saw them."""
    seen = []
    original = torch.optim.SGD.step

    def step(self, *args, **kwargs):
        g = self.param_groups[0]
        seen.append({k: g[k] for k in ("lr", "momentum", "nesterov", "weight_decay", "dampening")}
                    | {"same_for_all_groups": all(h["lr"] == g["lr"] and h["weight_decay"] == g["weight_decay"]
                                                  for h in self.param_groups),
                       "n_params": sum(len(h["params"]) for h in self.param_groups)})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", step)
    return seen


def nb201_lr(epoch: int, epochs: int = 12, base: float = 0.1) -> float:
    """AutoDL's CosineAnnealingLR after a zero warm-up, written out independently: eta_min 0, T_max = epochs."""
    return 0 + (base - 0) * (1 + math.cos(math.pi * epoch / epochs)) / 2


def test_learning_rate_of_every_epoch_is_nb201s(digits, sgd_steps, monkeypatch):
    from mfkdbench.train import trainer

    monkeypatch.setattr(trainer, "evaluate", lambda *args: 0.0)  # the schedule only; evaluation is tested elsewhere
    config = TrainConfig(epochs=12, batch_size=128, channels=4, cells=1, fraction=0.2, seed=1)
    steps_per_epoch = math.ceil(round(0.2 * len(digits.train_x)) / 128)
    result = train_arch(ARCH, digits, config)
    assert result.status == "ok" and len(sgd_steps) == 12 * steps_per_epoch
    lrs = np.array([s["lr"] for s in sgd_steps]).reshape(12, steps_per_epoch)
    print("\nepoch  trainer lr   NB201 lr")
    for e in range(12):
        print(f"{e + 1:5d}  {lrs[e, 0]:.6f}   {nb201_lr(e):.6f}")
    for e in range(12):
        assert np.all(lrs[e] == lrs[e, 0]), f"epoch {e + 1}: the lr changed within the epoch"
        assert lrs[e, 0] == pytest.approx(nb201_lr(e), rel=1e-12, abs=0)
    assert lrs[0, 0] == 0.1 and lrs[-1, 0] == pytest.approx(0.0017037, abs=1e-7)


def test_teacher_recipe_steps_per_epoch_over_200():
    from mfkdbench.train.trainer import epoch_lr

    config = TrainConfig(epochs=200)
    assert [epoch_lr(config, e) for e in (0, 100, 199)] == pytest.approx([0.1, 0.05, nb201_lr(199, 200)], abs=1e-15)
    assert nb201_lr(199, 200) > 0


def test_optimizer_settings_are_nb201s(digits, sgd_steps):
    config = TrainConfig(epochs=1, batch_size=256, channels=4, cells=1, seed=1)
    from mfkdbench.train.trainer import build_net

    n_params = len(list(build_net(ARCH, digits, config).parameters()))
    train_arch(ARCH, digits, config)
    s = sgd_steps[0]
    assert (s["momentum"], s["nesterov"], s["weight_decay"], s["dampening"]) == (0.9, True, 5e-4, 0)
    assert s["same_for_all_groups"] and s["n_params"] == n_params  # weight decay on every parameter, BN too


def test_training_batches_go_through_augmentation_then_normalisation(digits, monkeypatch):
    from mfkdbench.train import trainer

    calls = []
    for name in ("augment", "normalise"):
        original = getattr(trainer._DeviceData, name)
        monkeypatch.setattr(trainer._DeviceData, name,
                            lambda self, x, *a, _f=original, _n=name: calls.append((_n, x.dtype)) or _f(self, x, *a))
    config = TrainConfig(epochs=1, batch_size=512, channels=4, cells=1, seed=2)
    trainer.train_arch(ARCH, digits, config)
    train_calls = calls[:2 * math.ceil(len(digits.train_x) / 512)]
    assert train_calls == [("augment", torch.uint8), ("normalise", torch.uint8)] * 3


def _fake_data(flip: bool, padding: int):
    from mfkdbench.train.data import ImageData

    rng = np.random.default_rng(0)
    x = rng.integers(1, 256, size=(64, 3, 8, 8), dtype=np.uint8)  # no zero pixel: padding is recognisable
    y = np.zeros(64, dtype=np.int64)
    return ImageData("fake", 10, x, y, x[:4], y[:4], x[:4], y[:4], (120.0, 110.0, 100.0), (60.0, 50.0, 40.0),
                     padding, flip, "seeded")


def test_normalisation_is_per_channel_standardisation():
    from mfkdbench.train.trainer import _DeviceData

    data = _fake_data(True, 4)
    dev = _DeviceData(data, torch.device("cpu"), 1.0, 0)
    x = torch.from_numpy(data.train_x)
    expected = (x.double() - torch.tensor(data.mean).view(1, 3, 1, 1)) / torch.tensor(data.std).view(1, 3, 1, 1)
    assert torch.allclose(dev.normalise(x).double(), expected, atol=1e-5)


def test_augmentation_is_padded_random_crop_and_flip():
    """Each augmented image is some 8x8 window of the zero-padded image, mirrored or not; both and many
    offsets occur."""
    from mfkdbench.train.trainer import _DeviceData

    data = _fake_data(True, 4)
    dev = _DeviceData(data, torch.device("cpu"), 1.0, 0)
    x = torch.from_numpy(data.train_x)
    out = dev.augment(x, torch.Generator().manual_seed(5))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    found = []
    for img, src in zip(out, padded):
        hits = [(dy, dx, flip) for dy in range(9) for dx in range(9) for flip in (False, True)
                if torch.equal(img, (src[:, dy:dy + 8, dx:dx + 8].flip(2) if flip else src[:, dy:dy + 8, dx:dx + 8]))]
        assert hits, "an augmented image is no crop of the padded image"
        found.append(hits[0])
    assert {f for _, _, f in found} == {False, True}
    assert len({(dy, dx) for dy, dx, _ in found}) > 20
    assert any(dy != 4 or dx != 4 for dy, dx, _ in found) and any((img == 0).any() for img in out)
    no_flip = _DeviceData(_fake_data(False, 0), torch.device("cpu"), 1.0, 0)
    assert torch.equal(no_flip.augment(x, torch.Generator().manual_seed(5)), x)
