"""Real-training jobs behind the CLI: one short training, and filling the low-fidelity table.

Imports torch only when a job runs (through :mod:`mfkdbench.train.trainer`).
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mfkdbench.inputs import check_writable
from mfkdbench.errors import UserError
from mfkdbench.lowfi.live import LiveSetting, LiveSource, held_lock, missing_runs
from mfkdbench.lowfi.store import LowFiStore, check_search_split, default_store_path
from mfkdbench.nb201.space import N_ARCHS, SearchSpace, is_integer, parse_int, shown
from mfkdbench.nb201.tables import load_tables


@dataclass(frozen=True)
class JobOptions:
    """What a training job needs besides the architecture."""

    dataset: str
    loss: str = "ce"
    data_dir: str | None = None
    download: bool = False
    teacher: str | None = None  # checkpoint path; None: train one (cached)
    teacher_epochs: int = 200
    nb201_data: str | None = None  # NB201 tables, for the arch index order

    def __post_init__(self):  # fail on bad names before loading anything
        from mfkdbench.train.data import canonical_train_dataset
        from mfkdbench.train.losses import LOSSES

        object.__setattr__(self, "dataset", canonical_train_dataset(self.dataset))
        if self.loss not in LOSSES:
            raise UserError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")


def search_space(nb201_data: str | None) -> SearchSpace:
    return SearchSpace(load_tables(nb201_data).index_codes)


def parse_archs(text: str, space: SearchSpace, seed: int = 0) -> list[int]:
    """``N`` (N distinct indices drawn with ``seed``), or a comma list of indices, ``A:B`` ranges and arch strings."""
    text = str(text).strip()
    if is_integer(text):
        n = parse_int(text, 1, N_ARCHS, "--archs N")
        return [int(i) for i in np.random.default_rng(seed).choice(N_ARCHS, size=n, replace=False)]
    out: list[int] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        if ":" in item and "|" not in item:
            out.extend(range(*_index_range(item)))
        else:
            out.append(space.resolve(item))
    if not out:
        raise UserError("--archs is empty")
    return list(dict.fromkeys(out))


def _index_range(item: str) -> tuple[int, int]:
    """``A:B`` -> ``(A, B)`` with ``0 <= A < B <= N_ARCHS``."""
    bad = UserError(f"bad index range {shown(item)}: expected A:B with 0 <= A < B <= {N_ARCHS}")
    lo, hi = item.split(":", 1)
    try:
        lo, hi = parse_int(lo, 0, N_ARCHS - 1, "A"), parse_int(hi, 1, N_ARCHS, "B")
    except UserError:
        raise bad from None
    if not lo < hi:
        raise bad
    return lo, hi


class EpochProgress:
    """Per-epoch progress of one training (loss, accuracies, seconds): a tqdm bar on a terminal, else one line
    per epoch, both on stderr."""

    def __init__(self, label: str, epochs: int, stream=None):
        from tqdm import tqdm

        self.label, self.epochs, self.stream = label, epochs, stream or sys.stderr
        self.bar = (tqdm(total=epochs, desc=label, unit="epoch", leave=False, file=self.stream)
                    if self.stream.isatty() else None)

    def __call__(self, epoch: int, result) -> None:
        stats = (f"loss {result.train_loss[-1]:.4f}, train {result.train_acc[-1]:.1f} %, val {result.val_acc[-1]:.1f} %, "
                 f"{result.train_time_s[-1] + result.eval_time_s[-1]:.1f} s")
        if self.bar is None:
            print(f"{self.label} epoch {epoch}/{self.epochs}: {stats}", file=self.stream, flush=True)
        else:
            self.bar.set_postfix_str(stats, refresh=False)
            self.bar.update()
            if epoch == self.epochs:
                self.bar.close()


class Job:
    """Data, loss and teacher loaded once; trains architectures one at a time (``progress``: per-epoch progress;
    ``for_search``: its runs score searches, so their validation images must not be the report's)."""

    def __init__(self, options: JobOptions, config, teacher_cache: Path, progress: bool = False,
                 for_search: bool = False):
        from mfkdbench.train.data import load_image_data
        from mfkdbench.train.losses import LossConfig
        from mfkdbench.train.teacher import teacher_for
        from mfkdbench.train.trainer import subset_size

        self.options, self.config, self.progress = options, config, progress
        self.data = load_image_data(options.dataset, options.data_dir, options.download)
        if for_search:
            check_search_split(self.data.name, self.data.split)
        subset_size(config.fraction, self.data)  # before a teacher trains for hours
        self.loss = LossConfig(options.loss)
        self.teacher = None
        if self.loss.needs_teacher:  # one process trains a missing teacher; the others wait and load it
            with held_lock(teacher_cache / "teacher.lock"):
                on_epoch = EpochProgress(f"teacher {self.data.name}", options.teacher_epochs) if progress else None
                self.teacher = teacher_for(self.data, config, options.teacher, teacher_cache, options.teacher_epochs,
                                           on_epoch)

    @property
    def teacher_hash(self) -> str | None:
        return self.teacher.hash if self.teacher else None

    def key_fields(self, index: int) -> dict:
        c = self.config
        return {"arch_index": int(index), "dataset": self.data.name, "loss": self.loss.kind, "epochs": c.epochs,
                "fraction": float(c.fraction), "teacher_hash": self.teacher_hash, "seed": c.seed,
                "channels": c.channels, "cells": c.cells}

    def run(self, index: int, arch) -> dict:
        """Train one architecture; the store record of the run."""
        import torch

        from mfkdbench.train.trainer import train_arch

        on_epoch = EpochProgress(f"arch {index}", self.config.epochs) if self.progress else None
        result = train_arch(arch, self.data, self.config, self.loss, self.teacher.net if self.teacher else None,
                            on_epoch)
        curve = result.to_dict()
        return {**self.key_fields(index), "arch": str(arch), "status": curve.pop("status"),
                "reason": curve.pop("reason"), "test_acc": curve.pop("test_acc"), "curve": curve,
                "split": self.data.split, "loss_weight": self.loss.weight, "config": asdict(self.config),
                "torch": torch.__version__, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}


def training_job(dataset: str, loss: str = "nst", epochs: int = 12, *, teacher: str | None = None,
                 teacher_epochs: int = 200, fraction: float = 1.0, channels: int = 16, cells: int = 5,
                 batch_size: int = 256, device: str = "cpu", seed: int = 0, data_dir: str | None = None,
                 download: bool = False, teacher_cache: str | Path | None = None) -> Job:
    """A :class:`Job` from the training options (the live low fidelity's trainer: its runs score searches).

    Without ``teacher`` a distillation loss trains one (``teacher_epochs``) and
    caches it in ``teacher_cache`` (default: next to the default store).
    """
    from mfkdbench.train.trainer import TrainConfig

    options = JobOptions(dataset, loss, data_dir, download, teacher, teacher_epochs)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, fraction=fraction, seed=seed, device=device,
                         channels=channels, cells=cells)
    return Job(options, config, Path(teacher_cache) if teacher_cache else default_store_path().parent / "teachers",
               for_search=True)


def live_source(store_path, space: SearchSpace, **training) -> LiveSource:
    """A :class:`~mfkdbench.lowfi.live.LiveSource` training with the real trainer (:func:`training_job` options);
    a trained teacher is cached next to the store."""
    return LiveSource(store_path, space, training_job(teacher_cache=Path(store_path).parent / "teachers", **training))


def check_setting(setting: LiveSetting) -> None:
    """Fail on a bad name or number of a live setting before any search starts (loads no data)."""
    from mfkdbench.train.trainer import TrainConfig

    JobOptions(setting.dataset, setting.loss)
    TrainConfig(epochs=setting.epochs, batch_size=setting.batch_size, fraction=setting.fraction, seed=setting.seed,
                device=setting.device, channels=setting.channels, cells=setting.cells)


def check_live(setting: LiveSetting) -> None:
    """Everything a live low fidelity needs, checked before a search starts or anything is written: its names
    and numbers, its store (recognisably one, writable), its image data (whose validation images may score a
    search, enough of them for the fraction) and a given teacher checkpoint. Trains and writes nothing."""
    from mfkdbench.train.data import load_image_data
    from mfkdbench.train.teacher import load_teacher
    from mfkdbench.train.trainer import subset_size

    check_setting(setting)
    store = LowFiStore(setting.store)
    check_writable(store.path, f"low-fidelity store {store.path}")
    data = load_image_data(JobOptions(setting.dataset).dataset, setting.data_dir, False)
    check_search_split(data.name, data.split)
    subset_size(setting.fraction, data)
    if setting.teacher is not None:
        load_teacher(setting.teacher, data.name)


def setting_job(setting: LiveSetting) -> Job:
    """The job of a live low fidelity (:class:`~mfkdbench.lowfi.live.LiveSetting`); a trained teacher is cached
    next to its store."""
    return training_job(teacher_cache=Path(setting.store).parent / "teachers", **setting.training())


def curve_text(record: dict) -> str:
    """A run's per-epoch curve as a small table."""
    c = record["curve"]
    lines = [f"{record['arch']} on {record['dataset']}, loss {record['loss']}, teacher {record['teacher_hash'] or '-'}",
             "epoch  train_loss  train_acc  val_acc  train_s"]
    for e in range(len(c["train_loss"])):
        val = c["val_acc"][e] if e < len(c["val_acc"]) else float("nan")
        lines.append(f"{e + 1:5d}  {c['train_loss'][e]:10.4f}  {c['train_acc'][e]:9.2f}  {val:7.2f}  {c['train_time_s'][e]:7.2f}")
    if record["status"] == "ok":
        lines.append(f"test accuracy {record['test_acc']:.2f}, train time {sum(c['train_time_s']):.1f} s")
    else:
        lines.append(f"FAILED: {record['reason']}")
    return "\n".join(lines)


def train_one(arch_text: str, options: JobOptions, config) -> dict:
    """One short training of ``arch_text`` (an NB201 index or arch string); its record."""
    space = search_space(options.nb201_data)
    index = space.resolve(arch_text)
    job = Job(options, config, default_store_path().parent / "teachers", progress=True)
    return job.run(index, space.arch(index))


def build_lowfi(archs_text: str, options: JobOptions, config, store_path: str | None = None,
                progress: bool = True) -> dict:
    """Train every listed architecture not yet in the store and append its record."""
    from tqdm import tqdm

    space = search_space(options.nb201_data)
    indices = parse_archs(archs_text, space, config.seed)
    store = LowFiStore(default_store_path() if store_path is None else store_path)
    check_writable(store.path, f"low-fidelity store {store.path}")  # before any training
    job = Job(options, config, store.path.parent / "teachers", progress)
    todo = missing_runs(job, store, indices)
    failed = 0
    with tqdm(total=len(indices), initial=len(indices) - len(todo), disable=not progress, unit="arch",
              desc=f"lowfi {job.data.name}/{job.loss.kind}") as bar:
        for index in todo:
            record = job.run(index, space.arch(index))
            store.append(record)
            failed += record["status"] != "ok"
            bar.set_postfix(val=f"{record['curve']['val_acc'][-1]:.1f}" if record["status"] == "ok" else "failed")
            bar.update()
    return {"store": str(store.path), "requested": len(indices), "trained": len(todo), "failed": failed,
            "skipped": len(indices) - len(todo), "teacher_hash": job.teacher_hash}
