"""Image datasets for real training, as uint8 arrays with NB201's splits.

* ``cifar10``: NB201's ``cifar10-valid`` — train on 25k images of the CIFAR-10
  training set, validate on the other 25k, test on the 10k test set.
* ``cifar100``: train on the 50k training set; validation (x-valid) and test
  (x-test) are the two 5k halves of the test set.
* ``imagenet16-120``: NB201's downsampled ImageNet (16x16, first 120 classes)
  from a directory holding ``train_data_batch_1`` .. ``train_data_batch_10`` and
  ``val_data``; validation and test are the two halves of ``val_data``.
* ``digits``: scikit-learn's 1,797 8x8 digits upscaled to 16x16 RGB; offline,
  for smoke runs and tests only.

The splits are NB201's own when its split files (``cifar-split.txt``,
``cifar100-test-split.txt``, ``imagenet-16-120-test-split.txt`` from NB201's
``configs/nas-benchmark``) lie in the data directory; otherwise a fixed seeded
half split is used, and :attr:`ImageData.split` says which one a result used.
CIFAR loads through torchvision (downloads only when allowed).
"""
from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfkdbench.errors import UserError

TRAIN_DATASETS = ("cifar10", "cifar100", "imagenet16-120", "digits")
_ALIASES = {"cifar10-valid": "cifar10", "c10": "cifar10", "c100": "cifar100", "imagenet16": "imagenet16-120",
            "imagenet": "imagenet16-120", "in16": "imagenet16-120"}
_MEAN_STD = {  # NB201's normalisation constants, in 0..255 units
    "cifar10": ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar100": ((129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
    "imagenet16-120": ((122.68, 116.66, 104.01), (63.22, 61.26, 65.09)),
}
_SPLIT_SEED = 0


@dataclass
class ImageData:
    """Train / validation / test images (uint8, N x 3 x H x W) and int64 labels."""

    name: str
    num_classes: int
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    mean: tuple[float, ...]  # per channel, 0..255 units
    std: tuple[float, ...]
    crop_padding: int  # random-crop padding of the training augmentation
    flip: bool  # random horizontal flips during training
    split: str  # "nb201" or "seeded"


def canonical_train_dataset(name: str) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TRAIN_DATASETS:
        raise UserError(f"unknown training dataset {name!r}; choose one of {', '.join(TRAIN_DATASETS)}")
    return key


def load_image_data(name: str, data_dir: str | Path | None = None, download: bool = False) -> ImageData:
    """Load a training dataset; ``data_dir`` holds the files (or receives the download)."""
    name = canonical_train_dataset(name)
    if name == "digits":
        return _digits()
    if data_dir is None:
        raise UserError(f"{name} needs --data-dir DIR (a folder with the dataset files{', or --download' if name != 'imagenet16-120' else ''})")
    root = Path(data_dir).expanduser()
    if name == "imagenet16-120":
        return _imagenet16(root)
    return _cifar(name, root, download)


def _split_file(root: Path, filename: str, keys: tuple[str, str], n: int):
    """NB201's index split from ``root/filename``, else a seeded half split of ``range(n)``."""
    path = root / filename
    if path.is_file():
        try:
            raw = json.loads(path.read_text())
            parts = [np.asarray(raw[k][1] if isinstance(raw[k][0], str) else raw[k], dtype=np.int64) for k in keys]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise UserError(f"split file {path} is not in NB201's format ({exc})") from None
        if any(p.min() < 0 or p.max() >= n for p in parts):
            raise UserError(f"split file {path} has indices outside 0..{n - 1}")
        return parts[0], parts[1], "nb201"
    order = np.random.default_rng(_SPLIT_SEED).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:]), "seeded"


def _cifar(name: str, root: Path, download: bool) -> ImageData:
    try:
        from torchvision import datasets
    except ImportError:
        raise UserError("loading CIFAR needs torchvision: pip install 'mfkdbench[train]'") from None
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    try:
        train, test = cls(str(root), train=True, download=download), cls(str(root), train=False, download=download)
    except (RuntimeError, OSError) as exc:
        hint = "" if download else "; pass --download on a machine that can download it"
        raise UserError(f"cannot load {name} from {root} ({str(exc).splitlines()[0]}){hint}") from None
    to_nchw = lambda d: np.ascontiguousarray(d.data.transpose(0, 3, 1, 2))  # noqa: E731
    tx, ty = to_nchw(train), np.asarray(train.targets, dtype=np.int64)
    ex, ey = to_nchw(test), np.asarray(test.targets, dtype=np.int64)
    if name == "cifar10":
        tr, va, split = _split_file(root, "cifar-split.txt", ("train", "valid"), len(tx))
        parts = (tx[tr], ty[tr], tx[va], ty[va], ex, ey)
    else:
        va, te, split = _split_file(root, "cifar100-test-split.txt", ("xvalid", "xtest"), len(ex))
        parts = (tx, ty, ex[va], ey[va], ex[te], ey[te])
    mean, std = _MEAN_STD[name]
    return ImageData(name, 10 if name == "cifar10" else 100, *parts, mean, std, 4, True, split)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="latin1")
    except FileNotFoundError:
        raise UserError(f"missing ImageNet16 file {path} (NB201's downsampled format)") from None
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise UserError(f"ImageNet16 file {path} is unreadable ({exc})") from None


def _imagenet16_part(entries: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([np.asarray(e["data"], dtype=np.uint8) for e in entries]).reshape(-1, 3, 16, 16)
    y = np.concatenate([np.asarray(e["labels"], dtype=np.int64) for e in entries])
    keep = (y >= 1) & (y <= 120)  # NB201 keeps the first 120 of the 1,000 classes (labels are 1-based)
    return x[keep], y[keep] - 1


def _imagenet16(root: Path) -> ImageData:
    tx, ty = _imagenet16_part([_unpickle(root / f"train_data_batch_{i}") for i in range(1, 11)])
    vx, vy = _imagenet16_part([_unpickle(root / "val_data")])
    va, te, split = _split_file(root, "imagenet-16-120-test-split.txt", ("xvalid", "xtest"), len(vx))
    mean, std = _MEAN_STD["imagenet16-120"]
    return ImageData("imagenet16-120", 120, tx, ty, vx[va], vy[va], vx[te], vy[te], mean, std, 2, True, split)


def _digits() -> ImageData:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UserError("the offline 'digits' dataset needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    gray = np.kron(digits.images, np.ones((2, 2))) * (255 / 16)  # 8x8 -> 16x16, 0..16 -> 0..255
    x = np.repeat(np.rint(gray).astype(np.uint8)[:, None], 3, axis=1)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(x))
    tr, va, te = order[:1197], order[1197:1497], order[1497:]
    mean, std = float(x[tr].mean()), float(x[tr].std())
    return ImageData("digits", 10, x[tr], y[tr], x[va], y[va], x[te], y[te], (mean,) * 3, (std,) * 3, 2, False, "seeded")
