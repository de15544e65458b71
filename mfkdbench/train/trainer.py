"""Short-training recipe (NB201's 12-epoch schedule) with optional distillation (torch).

Recipe (NB201 ``LESS.config``): SGD with Nesterov momentum 0.9, weight decay
5e-4 on all parameters, batch 256, random crop (zero padding) and horizontal
flip; the learning rate follows a cosine stepped once per epoch, as AutoDL's
``CosineAnnealingLR`` does after its (here zero) warm-up: epoch ``e`` (0-based)
of ``E`` runs at ``0.1 * (1 + cos(pi * e / E)) / 2`` throughout, so the first
epoch runs at 0.1 and the last at ``0.1 * (1 + cos(pi * (E - 1) / E)) / 2``
(about 0.0017 for E = 12), never 0. The 200-epoch teacher recipe is the same
with E = 200.

The whole dataset sits on the device as uint8 and is augmented there in batch,
so no DataLoader workers are needed. On CUDA the forward pass runs in bfloat16
autocast with channels-last tensors. Shuffling, augmentation and weight
initialisation draw from generators seeded by ``seed``: on the CPU the same seed
gives the same result bit for bit.

A non-finite or diverging training loss (checked at each epoch's end, to avoid
a device sync per step), or running out of GPU memory, ends the run with
``status="failed"`` and the reason; it never raises.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from mfkdbench.errors import UserError
from mfkdbench.inputs import MAX_SEED
from mfkdbench.train.data import ImageData
from mfkdbench.train.losses import LossConfig, TrainingLoss
from mfkdbench.train.nets import NB201Net
from mfkdbench.nb201.space import Arch


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run; the defaults are NB201's 12-epoch schedule."""

    epochs: int = 12
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 256
    fraction: float = 1.0
    seed: int = 0
    device: str = "cpu"
    channels: int = 16
    cells: int = 5
    max_loss: float = 1e4  # a mean epoch loss above this counts as diverged
    eval_batch_size: int = 1024

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.channels < 1 or self.cells < 1:
            raise UserError("epochs, batch size, channels and cells must be positive")
        if not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"--seed must be in 0..{MAX_SEED}, got {self.seed}")
        if not 0 < self.fraction <= 1:
            raise UserError(f"data fraction must be in (0, 1], got {self.fraction}")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise UserError(f"unknown device {self.device!r}; use cpu or cuda")


@dataclass
class RunResult:
    """One run: per-epoch curves, final test accuracy, status ("ok" or "failed") and reason."""

    status: str = "ok"
    reason: str = ""
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    train_time_s: list[float] = field(default_factory=list)
    eval_time_s: list[float] = field(default_factory=list)
    test_acc: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


def subset_size(fraction: float, data: ImageData) -> int:
    """Training images that ``fraction`` keeps; :class:`UserError` below one per class."""
    n = len(data.train_x)
    kept = n if fraction >= 1 else round(fraction * n)
    if kept < data.num_classes:
        raise UserError(f"--fraction {fraction:g} keeps {kept} of the {n} {data.name} training images, fewer than "
                        f"one per class ({data.num_classes}); give at least {data.num_classes / n:.2g}")
    return kept


class _DeviceData:
    """A dataset on the device: normalisation and batched crop/flip augmentation."""

    def __init__(self, data: ImageData, device: torch.device, fraction: float, seed: int):
        n = len(data.train_x)
        kept = subset_size(fraction, data)
        keep = np.sort(np.random.default_rng(seed).permutation(n)[:kept]) if fraction < 1 else slice(None)
        put = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        self.train_x, self.train_y = put(data.train_x[keep]), put(data.train_y[keep])
        self.val = (put(data.val_x), put(data.val_y))
        self.test = (put(data.test_x), put(data.test_y))
        self.mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1) / 255
        self.std = torch.tensor(data.std, device=device).view(1, -1, 1, 1) / 255
        self.pad, self.flip = data.crop_padding, data.flip
        self.channels_last = device.type == "cuda"

    def normalise(self, x):
        x = (x.float() / 255 - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def augment(self, x, gen: torch.Generator):
        b, _, h, w = x.shape
        if self.pad:
            p = self.pad
            padded = torch.nn.functional.pad(x, (p, p, p, p))
            oy = torch.randint(0, 2 * p + 1, (b,), generator=gen, device=x.device)
            ox = torch.randint(0, 2 * p + 1, (b,), generator=gen, device=x.device)
            rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
            cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
            chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
            x = padded[torch.arange(b, device=x.device)[:, None, None, None], chans, rows, cols]
        if self.flip:
            mask = torch.rand(b, generator=gen, device=x.device) < 0.5
            x = torch.where(mask[:, None, None, None], x.flip(3), x)
        return x


def epoch_lr(config: TrainConfig, epoch: int) -> float:
    """NB201's learning rate for the whole of 0-based ``epoch``: cosine from ``config.lr``, stepped per epoch."""
    return 0.5 * config.lr * (1 + math.cos(math.pi * epoch / config.epochs))


def _autocast(device: torch.device):
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def evaluate(net, data: _DeviceData, split, batch_size: int, device: torch.device) -> float:
    """Top-1 accuracy (%) of ``net`` on ``split`` = (images, labels)."""
    net.eval()
    x, y = split
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for i in range(0, len(x), batch_size):
        with _autocast(device):
            logits = net(data.normalise(x[i:i + batch_size]))
        correct += (logits.argmax(1) == y[i:i + batch_size]).sum()
    return 100.0 * correct.item() / max(1, len(x))


def resolve_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available")
    return torch.device(name)


def fit(net: NB201Net, data: ImageData, config: TrainConfig, loss: LossConfig = LossConfig(),
        teacher: NB201Net | None = None, on_epoch: Callable[[int, RunResult], None] | None = None) -> RunResult:
    """Train ``net`` in place with the recipe and ``loss``; evaluate after each epoch, then call
    ``on_epoch(epoch, result so far)`` (1-based epoch)."""
    if loss.needs_teacher and teacher is None:
        raise UserError(f"the {loss.kind} loss needs a teacher (--teacher PATH, or let it train one)")
    device = resolve_device(config.device)
    gen = torch.Generator(device=device)
    gen.manual_seed(config.seed)
    dev = _DeviceData(data, device, config.fraction, config.seed)
    memory = torch.channels_last if device.type == "cuda" else torch.preserve_format
    net.to(device=device, memory_format=memory)
    if teacher is not None:
        teacher.to(device=device, memory_format=memory).eval()
    objective = TrainingLoss(loss, net, teacher)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum,
                          nesterov=config.nesterov, weight_decay=config.weight_decay)
    n = len(dev.train_x)
    steps = math.ceil(n / config.batch_size)
    result = RunResult()
    try:
        for epoch in range(config.epochs):
            net.train()
            start = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            order = torch.randperm(n, generator=gen, device=device)
            for group in opt.param_groups:
                group["lr"] = epoch_lr(config, epoch)
            for step in range(steps):
                idx = order[step * config.batch_size:(step + 1) * config.batch_size]
                x, y = dev.normalise(dev.augment(dev.train_x[idx], gen)), dev.train_y[idx]
                with _autocast(device):
                    t_logits = t_feats = None
                    if teacher is not None:
                        with torch.no_grad():
                            t_logits, t_feats = teacher(x, return_features=True)
                    logits, feats = net(x, return_features=True) if loss.needs_features else (net(x), None)
                    value = objective(logits, y, feats, t_logits, t_feats)
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                loss_sum += value.detach() * len(idx)
                correct += (logits.argmax(1) == y).sum()
            mean_loss = loss_sum.item() / n
            result.train_time_s.append(time.perf_counter() - start)
            result.train_loss.append(mean_loss)
            result.train_acc.append(100.0 * correct.item() / n)
            if not math.isfinite(mean_loss) or mean_loss > config.max_loss:
                result.status = "failed"
                result.reason = f"{'non-finite' if not math.isfinite(mean_loss) else 'diverging'} training loss {mean_loss:.4g} in epoch {epoch + 1}"
                return result
            start = time.perf_counter()
            result.val_acc.append(evaluate(net, dev, dev.val, config.eval_batch_size, device))
            result.eval_time_s.append(time.perf_counter() - start)
            if on_epoch is not None:
                on_epoch(epoch + 1, result)
        result.test_acc = evaluate(net, dev, dev.test, config.eval_batch_size, device)
    except torch.cuda.OutOfMemoryError as exc:
        result.status, result.reason = "failed", f"out of GPU memory ({str(exc).splitlines()[0]})"
    return result


def build_net(arch: Arch | str, data: ImageData, config: TrainConfig) -> NB201Net:
    """A freshly initialised network, its weights drawn from ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return NB201Net(arch, config.channels, config.cells, data.num_classes)


def train_arch(arch: Arch | str, data: ImageData, config: TrainConfig, loss: LossConfig = LossConfig(),
               teacher: NB201Net | None = None, on_epoch: Callable[[int, RunResult], None] | None = None) -> RunResult:
    """Build and train one architecture; returns its :class:`RunResult`."""
    return fit(build_net(arch, data, config), data, config, loss, teacher, on_epoch)
