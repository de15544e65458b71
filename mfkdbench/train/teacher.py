"""The distillation teacher: NB201's ResNet cell, trained or loaded, and its content hash (torch).

A teacher is identified by :func:`teacher_hash`, a SHA-256 over its
architecture, shape and every weight and BN statistic; the hash is stored with
every low-fidelity result it produced.
"""
from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from mfkdbench.errors import UserError
from mfkdbench.train.data import ImageData
from mfkdbench.train.nets import NB201Net
from mfkdbench.train.trainer import RunResult, TrainConfig, build_net, fit

TEACHER_ARCH = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
TEACHER_EPOCHS = 200  # NB201's full schedule


@dataclass
class Teacher:
    """A trained teacher network, its content hash and what is known of its training."""

    net: NB201Net
    hash: str
    dataset: str
    info: dict


def teacher_hash(net: NB201Net) -> str:
    """First 16 hex digits of a SHA-256 over arch, shape and all tensors of ``net``."""
    h = hashlib.sha256(f"{net.arch}|{net.channels}|{net.cells_per_stage}|{net.num_classes}".encode())
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu", torch.float64 if tensor.is_floating_point() else torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def train_teacher(data: ImageData, config: TrainConfig, on_epoch=None) -> Teacher:
    """Train the ResNet-cell teacher with cross-entropy (``config.epochs``; NB201 uses 200)."""
    net = build_net(TEACHER_ARCH, data, config)
    result: RunResult = fit(net, data, config, on_epoch=on_epoch)
    if result.status != "ok":
        raise UserError(f"teacher training failed: {result.reason}")
    info = {"epochs": config.epochs, "seed": config.seed, "val_acc": result.val_acc[-1], "test_acc": result.test_acc}
    return Teacher(net.cpu().eval(), teacher_hash(net), data.name, info)


def save_teacher(teacher: Teacher, path: str | Path) -> None:
    """Write a checkpoint that :func:`load_teacher` reads back to the same hash."""
    net = teacher.net
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"arch": str(net.arch), "channels": net.channels, "cells": net.cells_per_stage,
                "num_classes": net.num_classes, "dataset": teacher.dataset, "info": teacher.info,
                "hash": teacher.hash, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}, tmp)
    tmp.replace(path)


#: what :func:`save_teacher` writes, and the type of each entry
CHECKPOINT_FIELDS = {"arch": str, "channels": int, "cells": int, "num_classes": int, "dataset": str, "state_dict": dict}


def load_teacher(path: str | Path, dataset: str | None = None) -> Teacher:
    """Load a checkpoint written by :func:`save_teacher`; its hash is recomputed and checked."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"teacher checkpoint {path} does not exist or is not a file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
        reason = "it does not unpickle as tensors" if isinstance(exc, pickle.UnpicklingError) else _first_line(exc)
        raise UserError(f"teacher checkpoint {path} is not a readable torch checkpoint ({reason}); "
                        "give one that mfkdbench wrote, or omit --teacher to train one") from None
    wrong = ([name for name, kind in CHECKPOINT_FIELDS.items() if not isinstance(ckpt.get(name), kind)]
             if isinstance(ckpt, dict) else list(CHECKPOINT_FIELDS))
    if wrong:
        raise UserError(f"teacher checkpoint {path} is not an mfkdbench teacher (missing or mistyped: "
                        f"{', '.join(wrong)}); give one that mfkdbench wrote, or omit --teacher to train one")
    try:
        net = NB201Net(ckpt["arch"], ckpt["channels"], ckpt["cells"], ckpt["num_classes"])
        net.load_state_dict(ckpt["state_dict"])
    except (UserError, RuntimeError, ValueError, TypeError) as exc:
        raise UserError(f"teacher checkpoint {path} does not hold a valid teacher network ({_first_line(exc)})") from None
    digest = teacher_hash(net)
    if ckpt.get("hash") not in (None, digest):
        raise UserError(f"teacher checkpoint {path} does not match its recorded hash (corrupt?)")
    if dataset is not None and ckpt["dataset"] != dataset:
        raise UserError(f"teacher {path} was trained on {ckpt['dataset']}, not {dataset}")
    info = ckpt.get("info")
    return Teacher(net.eval(), digest, ckpt["dataset"], dict(info) if isinstance(info, dict) else {})


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def teacher_for(data: ImageData, config: TrainConfig, path: str | Path | None, cache_dir: Path,
                epochs: int = TEACHER_EPOCHS, on_epoch=None) -> Teacher:
    """The teacher at ``path``, else one trained once (``epochs``, same net size and seed) and kept in ``cache_dir``."""
    if path is not None:
        return load_teacher(path, data.name)
    cached = cache_dir / f"teacher-{data.name}-C{config.channels}-N{config.cells}-e{epochs}-s{config.seed}.pt"
    if cached.is_file():
        return load_teacher(cached, data.name)
    teacher = train_teacher(data, replace(config, epochs=epochs, fraction=1.0), on_epoch)
    save_teacher(teacher, cached)
    return teacher
