"""Training speed: images/s of mfkdbench's trainer next to a plain PyTorch loop of the same network.

Prints, for one device: (a) a minimal hand-written PyTorch loop (CE), (b) the
trainer with CE, (c) the minimal loop with the teacher's forward and NST, (d) the
trainer with teacher + NST, and the ratios b/a and d/c (1.0 = no overhead).
``--full-run`` instead times one whole 12-epoch NST run on a CIFAR-sized
synthetic set (25,000 32x32 images, as cifar10-valid) and prints seconds per run.

    python bench/bench_training.py                      # CPU, C=16 N=5, a few batches
    python bench/bench_training.py --device cuda --full-run
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import numpy as np
import torch

from mfkdbench.train.data import ImageData
from mfkdbench.train.losses import LossConfig, TrainingLoss
from mfkdbench.train.nets import NB201Net
from mfkdbench.train.teacher import TEACHER_ARCH
from mfkdbench.train.trainer import TrainConfig, fit

STUDENT = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def synthetic(n: int, size: int = 32, classes: int = 10) -> ImageData:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
    y = rng.integers(0, classes, n)
    small = slice(0, min(n, 512))
    return ImageData("synthetic", classes, x, y, x[small], y[small], x[small], y[small],
                     (128.0,) * 3, (64.0,) * 3, 4, True, "seeded")


def plain_loop(data: ImageData, config: TrainConfig, teacher=None) -> float:
    """Images/s of a minimal PyTorch loop: pre-normalised tensors, no augmentation, no bookkeeping."""
    device = torch.device(config.device)
    torch.manual_seed(0)
    net = NB201Net(STUDENT, config.channels, config.cells, data.num_classes).to(device)
    x = ((torch.from_numpy(data.train_x).float() - 128) / 64).to(device)
    y = torch.from_numpy(data.train_y).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loss = TrainingLoss(LossConfig("nst" if teacher is not None else "ce"), net, teacher)
    steps = math.ceil(len(x) / config.batch_size)
    start = time.perf_counter()
    for _ in range(config.epochs):
        for i in range(steps):
            xb, yb = x[i * config.batch_size:(i + 1) * config.batch_size], y[i * config.batch_size:(i + 1) * config.batch_size]
            if teacher is not None:
                with torch.no_grad():
                    t_logits, t_feats = teacher(xb, return_features=True)
                logits, feats = net(xb, return_features=True)
                value = loss(logits, yb, feats, t_logits, t_feats)
            else:
                value = loss(net(xb), yb)
            opt.zero_grad()
            value.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return config.epochs * len(x) / (time.perf_counter() - start)


def trainer_rate(data: ImageData, config: TrainConfig, teacher=None) -> float:
    """Images/s of :func:`mfkdbench.train.trainer.fit` (training time only, as it records it)."""
    torch.manual_seed(0)
    net = NB201Net(STUDENT, config.channels, config.cells, data.num_classes)
    result = fit(net, data, config, LossConfig("nst" if teacher is not None else "ce"), teacher)
    return config.epochs * len(data.train_x) / sum(result.train_time_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--full-run", action="store_true", help="time one 12-epoch NST run on 25,000 images")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    teacher = NB201Net(TEACHER_ARCH, 16, 5, 10).eval()
    if args.full_run:
        config = TrainConfig(device=args.device)
        data = synthetic(25_000)
        start = time.perf_counter()
        result = fit(NB201Net(STUDENT, 16, 5, 10), data, config, LossConfig("nst"), teacher)
        print(f"12-epoch NST run, 25,000 32x32 images, {args.device}: {time.perf_counter() - start:.1f} s wall, "
              f"{sum(result.train_time_s):.1f} s training ({result.status}); the MF-KD authors: ~255 s on a 2020 GPU")
        return
    config = TrainConfig(epochs=args.epochs, device=args.device, channels=args.channels, cells=args.cells)
    data = synthetic(args.images)
    fit(NB201Net(STUDENT, args.channels, args.cells, 10), data, replace(config, epochs=1))  # warm-up
    rates = {
        "a plain loop, CE": plain_loop(data, config),
        "b trainer, CE": trainer_rate(data, config),
        "c plain loop, teacher+NST": plain_loop(data, config, teacher.to(args.device)),
        "d trainer, teacher+NST": trainer_rate(data, config, teacher),
    }
    print(f"device={args.device} threads={torch.get_num_threads()} C={args.channels} N={args.cells} "
          f"images={args.images} epochs={args.epochs} batch={config.batch_size}")
    for name, rate in rates.items():
        print(f"  {name:28s} {rate:9.1f} images/s")
    print(f"  ratio trainer/plain, CE:          {rates['b trainer, CE'] / rates['a plain loop, CE']:.2f}")
    print(f"  ratio trainer/plain, teacher+NST: {rates['d trainer, teacher+NST'] / rates['c plain loop, teacher+NST']:.2f}")
    print(f"  cost of teacher+NST in the trainer: {rates['b trainer, CE'] / rates['d trainer, teacher+NST']:.2f}x slower than CE")


if __name__ == "__main__":
    main()
