"""NAS-Bench-201 networks in PyTorch (imports torch: real-training mode only).

A faithful re-implementation of NB201's ``TinyNetwork`` / ``InferCell`` /
``ResNetBasicblock`` (Dong & Yang, ICLR 2020), written here rather than
imported because the official package builds networks without exposing the
per-cell outputs that feature distillation needs. Its parameter count equals
NB201's recorded one for every cell (``tests/test_nets.py``).

Layout: stem (3x3 conv, BN) -> N cells (C) -> ResNet block (stride 2, 2C) ->
N cells (2C) -> ResNet block (4C) -> N cells (4C) -> BN-ReLU -> global average
pool -> linear. :meth:`NB201Net.forward` can return every cell's output.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from mfkdbench.nb201.space import EDGES, OPS, Arch

_NONE = OPS.index("none")


class ReLUConvBN(nn.Sequential):
    """NB201's ReLU -> Conv (no bias) -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


def make_op(op: int, channels: int) -> nn.Module:
    """One cell edge operation (stride 1, ``channels`` in and out)."""
    name = OPS[op]
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity()
    return _Zero()


class _Zero(nn.Module):
    """The ``none`` op; :class:`Cell` skips it instead of adding ``0 * x``."""

    def forward(self, x):
        return x.mul(0.0)


class Cell(nn.Module):
    """NB201's InferCell: node i sums ``op(node j)`` over its incoming edges."""

    def __init__(self, arch: Arch, channels: int):
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in arch.ops)
        #: per target node 1..3, the (edge index, source node) pairs that are not ``none``
        self._inputs = [[(e, j) for e, (i, j) in enumerate(EDGES) if i == node and arch.ops[e] != _NONE]
                        for node in (1, 2, 3)]

    def forward(self, x):
        nodes = [x]
        for inputs in self._inputs:
            if inputs:
                nodes.append(sum(self.edges[e](nodes[j]) for e, j in inputs))
            else:  # every incoming edge is 'none'; later convs still see BN's bias, as in NB201
                nodes.append(torch.zeros_like(x))
        return nodes[3]


class ResNetBlock(nn.Module):
    """NB201's ResNetBasicblock with stride 2 (between stages)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Net(nn.Module):
    """The NB201 macro skeleton around one cell, ``cells`` cells per stage."""

    def __init__(self, arch: Arch | str, channels: int = 16, cells: int = 5, num_classes: int = 10):
        super().__init__()
        self.arch = Arch.parse(arch) if isinstance(arch, str) else arch
        self.channels, self.cells_per_stage, self.num_classes = channels, cells, num_classes
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        #: stage (0, 1, 2) of each entry of ``self.layers``, and whether it is a ResNet block
        self.layer_stage: list[int] = []
        self.layer_is_block: list[bool] = []
        c_prev = channels
        for stage in range(3):
            c = channels * 2**stage
            if stage:
                layers.append(ResNetBlock(c_prev, c))
                self.layer_stage.append(stage)
                self.layer_is_block.append(True)
            for _ in range(cells):
                layers.append(Cell(self.arch, c))
                self.layer_stage.append(stage)
                self.layer_is_block.append(False)
            c_prev = c
        self.layers = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x, return_features: bool = False):
        """Logits, and with ``return_features`` also the list of every layer's output."""
        features = []
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
            if return_features:
                features.append(x)
        logits = self.classifier(self.lastact(x).mean((2, 3)))
        return (logits, features) if return_features else logits


def numel(module: nn.Module) -> int:
    """Number of trainable parameters (NB201 counts parameters, not BN buffers)."""
    return sum(p.numel() for p in module.parameters())


@lru_cache(maxsize=None)
def _op_params(op: int, channels: int) -> int:
    return numel(make_op(op, channels))


@lru_cache(maxsize=None)
def _skeleton_params(channels: int, cells: int, num_classes: int) -> int:
    return numel(NB201Net(Arch((_NONE,) * len(EDGES)), channels, cells, num_classes))


def count_parameters(arch: Arch | str, channels: int = 16, cells: int = 5, num_classes: int = 10) -> int:
    """Parameters of ``NB201Net(arch, ...)`` without building it: skeleton plus each edge op's
    parameters (both measured on real modules once and cached), equal to ``numel(NB201Net(...))``."""
    arch = Arch.parse(arch) if isinstance(arch, str) else arch
    per_cell = sum(_op_params(op, channels * 2**stage) for stage in range(3) for op in arch.ops)
    return _skeleton_params(channels, cells, num_classes) + cells * per_cell
