"""Losses against values computed by hand on tiny tensors."""
import math

import pytest

torch = pytest.importorskip("torch")

from mfkdbench.errors import UserError  # noqa: E402
from mfkdbench.train.losses import (LossConfig, TrainingLoss, attention_transfer, hinton_kd,  # noqa: E402
                                 match_layers, nst)
from mfkdbench.train.nets import NB201Net  # noqa: E402

# student: 2 channels with maps [3, 4] and [1, 0]; teacher: 1 channel [0, 2]  (B=1, H=1, W=2)
S = torch.tensor([[[[3.0, 4.0]], [[1.0, 0.0]]]])
T = torch.tensor([[[[0.0, 2.0]]]])


def test_nst_by_hand():
    # normalised: s0 = (.6, .8), s1 = (1, 0), t0 = (0, 1)
    # (s.s)^2 = [[1, .36], [.36, 1]] -> mean .68 ; (s.t)^2 = [.64, 0] -> mean .32
    assert nst(S, T).item() == pytest.approx(0.68 - 2 * 0.32, abs=1e-6)
    assert nst(T, T).item() == pytest.approx(1 - 2 * 1, abs=1e-6)  # teacher-teacher term dropped: not 0


def test_attention_transfer_by_hand():
    # student attention: channel mean of x^2 = (5, 8) -> /sqrt(89); teacher: (0, 4) -> (0, 1)
    a = 5 / math.sqrt(89)
    b = 8 / math.sqrt(89) - 1
    assert attention_transfer(S, T).item() == pytest.approx((a * a + b * b) / 2, rel=1e-6)
    assert attention_transfer(S, S).item() == 0.0


def test_hinton_kd_by_hand():
    student = torch.zeros(1, 2)
    teacher = torch.tensor([[4 * math.log(3.0), 0.0]])  # /T=4 -> softmax (.75, .25)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    expected = 0.1 * math.log(2) + 0.9 * 16 * kl
    assert hinton_kd(student, teacher, torch.tensor([0])).item() == pytest.approx(expected, rel=1e-6)


def test_match_layers_pairs_stage_by_stage():
    s, t = NB201Net("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|", 4, 1), NB201Net(
        "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|", 4, 2)
    assert match_layers(s.layer_stage, t.layer_stage, s.layer_is_block, t.layer_is_block) == [
        (0, 1), (1, 2), (2, 4), (3, 5), (4, 7)]
    assert match_layers(t.layer_stage, t.layer_stage, t.layer_is_block, t.layer_is_block) == [(i, i) for i in range(8)]


def test_training_loss_weights_and_layer_selection():
    net = NB201Net("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", 4, 1)
    gen = torch.Generator().manual_seed(0)  # seeded: unseeded maps once put the sum at 0.006, below float32's rel=1e-5
    feats_s = [torch.randn(2, c, h, h, generator=gen) for c, h in ((4, 8), (8, 4), (8, 4), (16, 2), (16, 2))]
    feats_t = [torch.randn(f.shape, generator=gen) for f in feats_s]
    logits, targets = torch.zeros(2, 10), torch.tensor([1, 2])
    ce = math.log(10)
    full = TrainingLoss(LossConfig("nst"), net, net)
    expected = ce + 25 * sum(nst(a, b).item() for a, b in zip(feats_s, feats_t))
    assert full(logits, targets, feats_s, None, feats_t).item() == pytest.approx(expected, abs=1e-5)
    one = TrainingLoss(LossConfig("at", layers=(2,)), net, net)
    expected = ce + 1000 * attention_transfer(feats_s[2], feats_t[2]).item()
    assert one(logits, targets, feats_s, None, feats_t).item() == pytest.approx(expected, abs=1e-5)
    assert TrainingLoss(LossConfig("ce"))(logits, targets).item() == pytest.approx(ce, rel=1e-6)
    with pytest.raises(UserError):
        TrainingLoss(LossConfig("nst", layers=(9,)), net, net)
    with pytest.raises(UserError):
        LossConfig("pkt")
