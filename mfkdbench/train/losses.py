"""Training losses: cross-entropy and three knowledge-distillation losses (torch).

* Hinton KD (Hinton et al. 2015): ``(1 - alpha) * CE + alpha * T^2 * KL(p_t^T || p_s^T)``.
* NST, neural selectivity transfer (Huang & Wang 2017) as the MF-KD authors ran
  it: each channel's spatial map is L2-normalised, the kernel is the squared
  polynomial ``k(a, b) = (a . b)^2`` (d=2, c=0), and the loss per matched layer
  is ``mean k(s, s) - 2 mean k(s, t)``; the constant ``mean k(t, t)`` is dropped,
  so the loss can be negative. Total: ``CE + weight * sum over matched layers``.
* Attention transfer (Zagoruyko & Komodakis 2017): ``a(x)`` is the L2-normalised
  channel-mean of ``x^2``; per layer ``mean (a(s) - a(t))^2``. Total:
  ``CE + weight * sum over matched layers``.

Layers are matched stage by stage (see :func:`match_layers`), so a student and a
teacher of different depth or width can be paired.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mfkdbench.errors import UserError

LOSSES = ("ce", "kd", "nst", "at")
DEFAULT_WEIGHT = {"ce": 0.0, "kd": 0.9, "nst": 25.0, "at": 1000.0}


def hinton_kd(student_logits, teacher_logits, targets, temperature: float = 4.0, alpha: float = 0.9):
    """Hinton's distillation loss (KL with ``batchmean`` reduction, scaled by T^2)."""
    soft = F.kl_div(F.log_softmax(student_logits / temperature, 1), F.softmax(teacher_logits / temperature, 1),
                    reduction="batchmean") * temperature**2
    return (1 - alpha) * F.cross_entropy(student_logits, targets) + alpha * soft


def _channel_maps(x):
    return F.normalize(x.flatten(2), dim=2)  # (B, C, H*W), each channel map of unit L2 norm


def nst(student, teacher):
    """NST between one student and one teacher feature map, teacher-teacher term dropped."""
    s, t = _channel_maps(student.float()), _channel_maps(teacher.float())
    ss = torch.bmm(s, s.transpose(1, 2)).pow(2).mean()
    st = torch.bmm(s, t.transpose(1, 2)).pow(2).mean()
    return ss - 2 * st


def _attention(x):
    return F.normalize(x.float().pow(2).mean(1).flatten(1), dim=1)


def attention_transfer(student, teacher):
    """Attention-transfer loss between one student and one teacher feature map."""
    return (_attention(student) - _attention(teacher)).pow(2).mean()


def match_layers(student_stages: list[int], teacher_stages: list[int], student_blocks: list[bool],
                 teacher_blocks: list[bool]) -> list[tuple[int, int]]:
    """Pairs ``(student layer, teacher layer)`` with equal spatial size.

    Within each stage, ResNet blocks pair with ResNet blocks, and the k-th of a
    student's n cells pairs with teacher cell ``round((k + 1) * m / n) - 1`` of
    its m cells; with equal depths this is the identity pairing.
    """
    def groups(stages, blocks):
        out: dict[tuple[int, bool], list[int]] = {}
        for i, key in enumerate(zip(stages, blocks)):
            out.setdefault(key, []).append(i)
        return out

    s_groups, t_groups = groups(student_stages, student_blocks), groups(teacher_stages, teacher_blocks)
    pairs = []
    for key, s_idx in s_groups.items():
        t_idx = t_groups.get(key)
        if not t_idx:
            continue
        n, m = len(s_idx), len(t_idx)
        pairs += [(s, t_idx[round((k + 1) * m / n) - 1]) for k, s in enumerate(s_idx)]
    return sorted(pairs)


@dataclass(frozen=True)
class LossConfig:
    """Which loss, its weight, and (for feature losses) which student layers to match (None: all)."""

    kind: str = "ce"
    weight: float | None = None
    temperature: float = 4.0
    layers: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.kind not in LOSSES:
            raise UserError(f"unknown loss {self.kind!r}; choose one of {', '.join(LOSSES)}")
        if self.weight is None:
            object.__setattr__(self, "weight", DEFAULT_WEIGHT[self.kind])

    @property
    def needs_teacher(self) -> bool:
        return self.kind != "ce"

    @property
    def needs_features(self) -> bool:
        return self.kind in ("nst", "at")


class TrainingLoss:
    """The training objective for one student/teacher pair."""

    def __init__(self, config: LossConfig, student=None, teacher=None):
        self.config = config
        self.pairs: list[tuple[int, int]] = []
        if config.needs_features:
            pairs = match_layers(student.layer_stage, teacher.layer_stage, student.layer_is_block,
                                 teacher.layer_is_block)
            if config.layers is not None:
                bad = sorted(set(config.layers) - {s for s, _ in pairs})
                if bad:
                    raise UserError(f"student layers {bad} cannot be matched; valid layers: 0..{len(student.layers) - 1}")
                pairs = [p for p in pairs if p[0] in config.layers]
            self.pairs = pairs

    def __call__(self, logits, targets, features=None, teacher_logits=None, teacher_features=None):
        kind, weight = self.config.kind, self.config.weight
        if kind == "kd":
            return hinton_kd(logits.float(), teacher_logits.float(), targets, self.config.temperature, weight)
        loss = F.cross_entropy(logits.float(), targets)
        if kind in ("nst", "at"):
            term = nst if kind == "nst" else attention_transfer
            loss = loss + weight * sum(term(features[s], teacher_features[t]) for s, t in self.pairs)
        return loss
