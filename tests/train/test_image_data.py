"""The CIFAR-10/100 and ImageNet16-120 loaders on small stand-in files in the official on-disk formats.

CIFAR goes through torchvision's real loading path; only its md5 check of the official files is patched
(the stand-ins are not the official bytes). ImageNet16-120 is NB201's downsampled pickle format.
"""
import json
import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cifar = pytest.importorskip("torchvision.datasets.cifar")

from mfkdbench.errors import UserError  # noqa: E402
from mfkdbench.train.data import load_image_data  # noqa: E402
from mfkdbench.train.trainer import _DeviceData  # noqa: E402


@pytest.fixture(autouse=True)
def no_md5_check(monkeypatch):
    """Accept any existing file where torchvision expects the official one's md5 (nothing else patched)."""
    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


def _images(n, size, first, seed):
    """``n`` images whose first pixel of channel c is ``first + c`` and the rest seeded noise, flat (N, 3*size*size)."""
    x = np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8)
    x[:, :, 0, 0] = (first + np.arange(3)) % 256
    return x, x.reshape(n, -1)


def _dump(path, entry):
    with open(path, "wb") as fh:
        pickle.dump(entry, fh, protocol=2)


def write_cifar10(root, per_batch=6, n_test=8):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images, labels = [], []
    for b in range(1, 6):
        x, flat = _images(per_batch, 32, 10 * b, b)
        y = [(b + i) % 10 for i in range(per_batch)]
        _dump(folder / f"data_batch_{b}", {"batch_label": f"training batch {b} of 5", "data": flat, "labels": y,
                                            "filenames": [f"{b}_{i}.png" for i in range(per_batch)]})
        images.append(x)
        labels += y
    tx, tflat = _images(n_test, 32, 200, 9)
    _dump(folder / "test_batch", {"batch_label": "testing batch 1 of 1", "data": tflat, "labels": list(range(8))})
    _dump(folder / "batches.meta", {"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072})
    return np.concatenate(images), np.array(labels), tx


def write_cifar100(root, n_train=12, n_test=10):
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    x, flat = _images(n_train, 32, 0, 1)
    y = [(7 * i) % 100 for i in range(n_train)]
    _dump(folder / "train", {"data": flat, "fine_labels": y, "coarse_labels": [v // 5 for v in y]})
    tx, tflat = _images(n_test, 32, 100, 2)
    ty = [99 - i for i in range(n_test)]
    _dump(folder / "test", {"data": tflat, "fine_labels": ty, "coarse_labels": [v // 5 for v in ty]})
    _dump(folder / "meta", {"fine_label_names": [f"f{i}" for i in range(100)],
                            "coarse_label_names": [f"c{i}" for i in range(20)]})
    return x, np.array(y), tx, np.array(ty)


def write_imagenet16(root, per_batch=5, n_val=12):
    """Labels are 1-based over 1,000 classes; NB201 keeps 1..120."""
    root.mkdir(parents=True, exist_ok=True)
    train = []
    for b in range(1, 11):
        x, flat = _images(per_batch, 16, b, b)
        y = [(b * 37 + i * 113) % 1000 + 1 for i in range(per_batch)]
        _dump(root / f"train_data_batch_{b}", {"data": flat, "labels": y, "mean": flat.mean(0)})
        train += [(xi, yi) for xi, yi in zip(x, y)]
    vx, vflat = _images(n_val, 16, 50, 11)
    vy = [1, 120, 121, 5, 1000, 60, 2, 119, 300, 7, 8, 9][:n_val]
    _dump(root / "val_data", {"data": vflat, "labels": vy})
    return train, vx, np.array(vy)


def test_cifar10_is_nb201s_cifar10_valid(tmp_path):
    x, y, tx = write_cifar10(tmp_path)
    data = load_image_data("cifar10", tmp_path)
    assert data.split == "seeded" and data.num_classes == 10
    assert data.train_x.shape == (15, 3, 32, 32) and data.val_x.shape == (15, 3, 32, 32) and data.train_x.dtype == np.uint8
    # train and valid: the two halves of the 30 training images, disjoint; test: the test batch
    together = np.concatenate([data.train_x, data.val_x]).reshape(30, -1)
    assert sorted(map(bytes, together)) == sorted(map(bytes, x.reshape(30, -1)))
    assert np.array_equal(data.test_x, tx) and list(data.test_y) == list(range(8))
    rows = {bytes(xi.ravel()): yi for xi, yi in zip(x, y)}
    assert all(rows[bytes(xi.ravel())] == yi for xi, yi in zip(data.train_x, data.train_y))
    assert data.train_x[0, :, 0, 0].tolist() in ([10 * b + c for c in range(3)] for b in range(1, 6))  # NCHW
    assert (data.mean, data.std, data.crop_padding, data.flip) == ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7), 4, True)


def test_cifar10_uses_nb201s_split_file(tmp_path):
    x, _, _ = write_cifar10(tmp_path)
    (tmp_path / "cifar-split.txt").write_text(json.dumps({"train": ["int", [0, 2, 4]], "valid": ["int", [1, 29]]}))
    data = load_image_data("cifar10", tmp_path)
    assert data.split == "nb201"
    assert np.array_equal(data.train_x, x[[0, 2, 4]]) and np.array_equal(data.val_x, x[[1, 29]])


def test_cifar100_valid_and_test_are_halves_of_the_test_set(tmp_path):
    x, y, tx, ty = write_cifar100(tmp_path)
    data = load_image_data("c100", tmp_path)
    assert data.name == "cifar100" and data.num_classes == 100 and data.split == "seeded"
    assert np.array_equal(data.train_x, x) and np.array_equal(data.train_y, y)  # the whole training set
    assert len(data.val_x) == len(data.test_x) == 5
    halves = np.concatenate([data.val_x, data.test_x]).reshape(10, -1)
    assert sorted(map(bytes, halves)) == sorted(map(bytes, tx.reshape(10, -1)))
    label = {bytes(a.ravel()): b for a, b in zip(tx, ty)}
    assert all(label[bytes(a.ravel())] == b for a, b in zip(data.val_x, data.val_y))
    (tmp_path / "cifar100-test-split.txt").write_text(json.dumps({"xvalid": ["int", [9, 0]], "xtest": ["int", [3]]}))
    split = load_image_data("cifar100", tmp_path)
    assert split.split == "nb201" and list(split.val_y) == [90, 99] and list(split.test_y) == [96]
    assert (split.mean, split.std) == ((129.3, 124.1, 112.4), (68.2, 65.4, 70.4))


def test_imagenet16_keeps_the_first_120_classes_zero_based(tmp_path):
    train, vx, vy = write_imagenet16(tmp_path / "in16")
    data = load_image_data("imagenet16-120", tmp_path / "in16")
    kept = [(xi, yi - 1) for xi, yi in train if yi <= 120]
    assert len(kept) > 0 and len(data.train_x) == len(kept) and data.train_x.shape[1:] == (3, 16, 16)
    assert all(np.array_equal(a, xi) and b == yi for (xi, yi), a, b in zip(kept, data.train_x, data.train_y))
    assert data.train_y.min() >= 0 and data.train_y.max() <= 119 and data.num_classes == 120
    keep = vy <= 120  # 121, 1000 and 300 dropped; labels 1 and 120 kept as 0 and 119
    val_test = np.concatenate([data.val_y, data.test_y])
    assert sorted(val_test.tolist()) == sorted((vy[keep] - 1).tolist()) and {0, 119} <= set(val_test.tolist())
    assert len(data.val_x) + len(data.test_x) == keep.sum() == 9 and abs(len(data.val_x) - len(data.test_x)) <= 1
    assert (data.crop_padding, data.flip, data.mean) == (2, True, (122.68, 116.66, 104.01))


def test_normalisation_uses_nb201s_constants(tmp_path):
    write_cifar10(tmp_path)
    data = load_image_data("cifar10", tmp_path)
    device = _DeviceData(data, torch.device("cpu"), 1.0, 0)
    pixel = torch.tensor([125.3, 123.0 + 62.1, 113.9 - 2 * 66.7]).round().to(torch.uint8).view(1, 3, 1, 1)
    out = device.normalise(pixel).view(3)
    expected = (pixel.view(3).float() - torch.tensor([125.3, 123.0, 113.9])) / torch.tensor([63.0, 62.1, 66.7])
    assert torch.allclose(out, expected, atol=1e-5) and abs(out[1].item() - 1) < 0.01


@pytest.mark.parametrize("name,write,missing", [
    ("cifar10", write_cifar10, "cifar-10-batches-py/data_batch_3"),
    ("cifar100", write_cifar100, "cifar-100-python/test"),
    ("imagenet16-120", write_imagenet16, "val_data"),
])
def test_a_missing_file_is_one_clear_error(tmp_path, name, write, missing):
    write(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(UserError) as err:
        load_image_data(name, tmp_path)
    assert "\n" not in str(err.value) and (name in str(err.value) or "ImageNet16" in str(err.value))


def test_a_search_trainer_refuses_a_seeded_split_of_the_test_set_before_any_teacher(tmp_path):
    """Without NB201's split file the CIFAR-100 validation half overlaps the report's x-test images: the trainer
    of a live low fidelity refuses it in one line, before a teacher trains; with the file it loads."""
    from mfkdbench.errors import UserError
    from mfkdbench.train.jobs import training_job

    write_cifar100(tmp_path, n_train=100)  # one image per class
    with pytest.raises(UserError, match="overlaps NB201's x-test images.*cifar100-test-split.txt"):
        training_job("cifar100", "ce", 1, data_dir=str(tmp_path), teacher_cache=tmp_path / "teachers")
    (tmp_path / "cifar100-test-split.txt").write_text(json.dumps({"xvalid": ["int", [9, 0]], "xtest": ["int", [3]]}))
    job = training_job("cifar100", "ce", 1, data_dir=str(tmp_path), teacher_cache=tmp_path / "teachers")
    assert job.data.split == "nb201"
