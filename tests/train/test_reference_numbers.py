"""Numbers, not shapes: the networks against an independent functional NB201 reference, distillation gradients
and batch averaging against closed forms, the teacher's cell written out literally."""
import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from mfkdbench.train.losses import LossConfig, TrainingLoss, hinton_kd, nst  # noqa: E402
from mfkdbench.train.nets import NB201Net  # noqa: E402

#: every operation on some edge, skip and pooling after convolutions, a node fed by nothing but 'none'
CELLS = ["|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_1x1~2|",
         "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_3x3~2|"]
#: NB201's ResNet cell, the distillation teacher (NATS-Bench topology index 11472)
RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


# ---- an independent NB201 network, written from the paper's and AutoDL's definitions ------------------

def bn(x, p, name):
    return F.batch_norm(x, p[f"{name}.running_mean"], p[f"{name}.running_var"], p[f"{name}.weight"],
                        p[f"{name}.bias"], training=False, eps=1e-5)


def relu_conv_bn(x, p, name, stride=1):
    """AutoDL's ReLUConvBN: ReLU, then conv (no bias, 'same' padding), then BN."""
    w = p[f"{name}.1.weight"]
    return bn(F.conv2d(F.relu(x), w, stride=stride, padding=w.shape[-1] // 2), p, f"{name}.2")


def cell(x, p, name, arch):
    """node_j = sum over i < j of op_ij(node_i); edges numbered in the arch string's order."""
    nodes, edge = [x], 0
    for group in arch.strip("|").split("|+|"):
        total = torch.zeros_like(x)
        for token in group.split("|"):
            op, source = token.split("~")
            h = nodes[int(source)]
            if op == "nor_conv_3x3" or op == "nor_conv_1x1":
                total = total + relu_conv_bn(h, p, f"{name}.edges.{edge}")
            elif op == "avg_pool_3x3":
                total = total + F.avg_pool2d(h, 3, stride=1, padding=1, count_include_pad=False)
            elif op == "skip_connect":
                total = total + h
            edge += 1
        nodes.append(total)
    return nodes[-1]


def resnet_block(x, p, name):
    """AutoDL's ResNetBasicblock, stride 2: ReLUConvBN(3x3, s2) -> ReLUConvBN(3x3) plus avgpool(2) + conv1x1."""
    residual = relu_conv_bn(relu_conv_bn(x, p, f"{name}.conv_a", stride=2), p, f"{name}.conv_b")
    shortcut = F.conv2d(F.avg_pool2d(x, 2, stride=2, padding=0), p[f"{name}.downsample.1.weight"])
    return shortcut + residual


def reference_forward(net, x, arch, cells):
    p = net.state_dict()
    h = bn(F.conv2d(x, p["stem.0.weight"], padding=1), p, "stem.1")
    layer = 0
    for stage in range(3):
        if stage:
            h = resnet_block(h, p, f"layers.{layer}")
            layer += 1
        for _ in range(cells):
            h = cell(h, p, f"layers.{layer}", arch)
            layer += 1
    h = F.relu(bn(h, p, "lastact.0")).mean((2, 3))
    return F.linear(h, p["classifier.weight"], p["classifier.bias"])


def randomised(net):
    """Random BN statistics and affine parameters, so every BN changes the numbers."""
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.running_mean, m.weight, m.bias):
                t.data = torch.randn(t.shape, generator=gen)
            m.running_var.data = torch.rand(m.running_var.shape, generator=gen) + 0.5
    return net.eval()


@pytest.mark.parametrize("arch", CELLS + [RESNET_CELL])
def test_network_equals_the_independent_reference(arch):
    torch.manual_seed(1)
    net = randomised(NB201Net(arch, channels=4, cells=2, num_classes=5))
    x = torch.randn(3, 3, 8, 8)  # small maps: every border pixel sees the pooling padding
    with torch.no_grad():
        ours, expected = net(x), reference_forward(net, x, arch, 2)
    assert ours.shape == (3, 5)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_teacher_is_nb201s_resnet_cell(tables, space):
    from mfkdbench.train.teacher import TEACHER_ARCH, TEACHER_EPOCHS

    assert TEACHER_ARCH == RESNET_CELL and TEACHER_EPOCHS == 200
    assert space.index(RESNET_CELL) == 11472 and str(space.arch(11472)) == RESNET_CELL
    # NB201's record of it: the well-known ~70.9 % CIFAR-100 test accuracy of the ResNet
    assert tables.get("cifar100", "test_acc_200")[11472] == pytest.approx(70.9, abs=0.5)


def test_teacher_training_builds_the_resnet_cell(monkeypatch):
    from mfkdbench.train import teacher

    built = []
    monkeypatch.setattr(teacher, "fit", lambda net, data, config, *a, **kw: built.append(str(net.arch)) or
                        teacher.RunResult(val_acc=[1.0], test_acc=1.0))

    class Data:
        name, num_classes = "x", 10

    teacher.train_teacher(Data(), teacher.TrainConfig(channels=2, cells=1))
    assert built == [RESNET_CELL]


# ---- distillation: closed-form gradients, batch averaging -------------------------------------------

def test_hinton_kd_gradient_is_the_closed_form_and_batch_averaged():
    """d/dz [(1-a) CE + a T^2 KL(p_t^T || p_s^T)] = ((1-a)(softmax(z) - y) + a T (softmax(z/T) - softmax(t/T))) / B"""
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(4, 6, generator=gen, requires_grad=True)
    t, y = torch.randn(4, 6, generator=gen), torch.tensor([0, 3, 5, 1])
    T, a = 4.0, 0.9
    loss = hinton_kd(z, t, y, T, a)
    loss.backward()
    onehot = F.one_hot(y, 6).float()
    expected = ((1 - a) * (z.softmax(1) - onehot) + a * T * ((z / T).softmax(1) - (t / T).softmax(1))) / 4
    torch.testing.assert_close(z.grad, expected.detach(), rtol=1e-5, atol=1e-7)
    per_sample = [hinton_kd(z[i:i + 1], t[i:i + 1], y[i:i + 1], T, a) for i in range(4)]
    assert loss.item() == pytest.approx(sum(v.item() for v in per_sample) / 4, rel=1e-6)


def reference_nst(s, t):
    """NST with the squared polynomial kernel, teacher-teacher term dropped; averaged over the batch."""
    out = []
    for sb, tb in zip(s, t):
        sn = [m.flatten() / m.flatten().norm() for m in sb]
        tn = [m.flatten() / m.flatten().norm() for m in tb]
        ss = sum((a @ b) ** 2 for a in sn for b in sn) / len(sn) ** 2
        st = sum((a @ b) ** 2 for a in sn for b in tn) / (len(sn) * len(tn))
        out.append(ss - 2 * st)
    return sum(out) / len(out)


def test_nst_loss_and_its_gradient_match_the_reference_per_sample_average():
    gen = torch.Generator().manual_seed(3)
    s = torch.randn(3, 4, 5, 5, generator=gen, requires_grad=True)
    t = torch.randn(3, 6, 5, 5, generator=gen)
    ours, ref = nst(s, t), reference_nst(s, t)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    (g_ours,) = torch.autograd.grad(ours, s)
    (g_ref,) = torch.autograd.grad(ref, s)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-4, atol=1e-6)


def test_the_distillation_term_reaches_the_student_features_with_its_weight():
    net = NB201Net(RESNET_CELL, 4, 1)
    gen = torch.Generator().manual_seed(4)
    feats = [torch.randn(2, c, h, h, generator=gen, requires_grad=True)
             for c, h in ((4, 8), (8, 4), (8, 4), (16, 2), (16, 2))]
    teacher = [torch.randn(f.shape, generator=gen) for f in feats]
    logits, y = torch.zeros(2, 10, requires_grad=True), torch.tensor([1, 2])
    TrainingLoss(LossConfig("nst"), net, net)(logits, y, feats, None, teacher).backward()
    for f, t in zip(feats, teacher):
        (expected,) = torch.autograd.grad(25 * reference_nst(f, t), f)
        torch.testing.assert_close(f.grad, expected, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(logits.grad, (F.softmax(logits, 1) - F.one_hot(y, 10)).detach() / 2)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("loss", ["kd", "nst", "at"])
def test_training_with_a_distillation_loss_is_not_cross_entropy(loss, monkeypatch, one_thread):
    """The loss the trainer backpropagates is the configured one: every step's value equals TrainingLoss's."""
    pytest.importorskip("sklearn")
    from mfkdbench.train import trainer
    from mfkdbench.train.data import load_image_data

    data = load_image_data("digits")
    config = trainer.TrainConfig(epochs=1, batch_size=128, channels=4, cells=1, fraction=0.25, seed=0)
    teacher = trainer.build_net(RESNET_CELL, data, config).eval()
    backpropagated, distilled = [], []
    original_backward = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        backpropagated.append(self.item())
        return original_backward(self, *args, **kwargs)

    original_call = TrainingLoss.__call__

    def call(self, logits, targets, feats=None, t_logits=None, t_feats=None):
        value = original_call(self, logits, targets, feats, t_logits, t_feats)
        distilled.append(abs(value.item() - F.cross_entropy(logits.float(), targets).item()))
        return value

    monkeypatch.setattr(torch.Tensor, "backward", backward)
    monkeypatch.setattr(trainer.TrainingLoss, "__call__", call)
    result = trainer.train_arch(CELLS[0], data, config, LossConfig(loss), teacher)
    assert result.status == "ok" and len(backpropagated) == len(distilled) == math.ceil(299 / 128)
    assert min(distilled) > 1e-4  # the distillation term is there in every step
    assert result.train_loss[0] == pytest.approx(
        sum(v * n for v, n in zip(backpropagated, (128, 128, 43))) / 299, rel=1e-5)
