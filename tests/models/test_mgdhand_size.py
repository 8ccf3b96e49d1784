"""Model size: parameter counts and FLOPs from FlopCounterMode, pinned on an analytic case."""

import torch

from handpose.models.dstformer import DSTformer
from handpose.models.mgdhand import NetworkConfig, PriorConfig, count_parameters
from handpose.models.mgdhand.size import _flops, measure_model_size
from models.fakes import FakeHandModel


def dstformer_macs(t, j, c_in, d, r, depth):
    """Multiply-adds of DSTformer.encode(embed(x)) for one clip (no heads)."""
    tokens = t * j
    linear = c_in * d + depth * 2 * 2 * (4 + 2 * r) * d * d + depth * 2 * d * 2
    attention = depth * 2 * (t * 2 * j * j * d + j * 2 * t * t * d)  # 2 streams × (S + T)
    return tokens * linear + attention


def test_flop_counter_matches_the_analytic_dstformer_count():
    model = DSTformer(dim_in=12, dim_out=None, dim_rep=None, dim_feat=16, depth=2,
                      num_heads=4, mlp_ratio=2, num_joints=7, maxlen=10)  # fmt: skip

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x):
            return self.net(x)

    total, in_decoder = _flops(Wrap(), torch.randn(1, 10, 7, 12))
    assert in_decoder == 0
    assert total == 2 * dstformer_macs(10, 7, 12, 16, 2, 2)


def test_measure_model_size_small_config():
    net = NetworkConfig(dim=16, depth=1, num_heads=2, mlp_ratio=2.0, head_hidden=16)
    pri = PriorConfig(8, 8, 8)
    teacher, student = measure_model_size(net, net, pri, frames=8, num_imus=7,
                                          hand_model=FakeHandModel())  # fmt: skip
    assert teacher.name == "teacher" and student.name == "student"
    assert teacher.params > 0 and student.params > 0
    assert teacher.flops > student.flops > 0  # the teacher runs the trunk on 16 + 7 tokens
    assert teacher.macs == teacher.flops // 2
    assert teacher.hand_model_flops > 0 and teacher.hand_model_flops == student.hand_model_flops
    d = teacher.as_dict()
    assert d["frames"] == 8 and d["num_imus"] == 7 and d["macs"] == teacher.macs
    # Fewer sensors: fewer student FLOPs, same teacher.
    t2, s2 = measure_model_size(net, net, pri, frames=8, num_imus=2, hand_model=FakeHandModel())
    assert s2.flops < student.flops


def test_count_parameters_trainable_only():
    lin = torch.nn.Linear(3, 4)
    lin.bias.requires_grad_(False)
    assert count_parameters(lin) == 16 and count_parameters(lin, trainable_only=True) == 12


# The MGDHand supplement §1 (T = 32, 7 IMUs): parameters and "FLOPs", which are MACs
# (docs/benchmarks/model_size.md).
PAPER = {"teacher": (12.52e6, 9.32e9), "student": (9.62e6, 2.22e9)}


def _preset_sizes(name):
    from handpose.training.config import load_config

    cfg = load_config(name)
    with torch.device("meta"):  # shapes only: sizing needs no arithmetic
        return measure_model_size(cfg.teacher, cfg.student, cfg.priors, frames=cfg.data.window,
                                  num_imus=7, hand_model=FakeHandModel())  # fmt: skip


def test_paper_preset_has_the_papers_size():
    """`paper` is within 5 % of all four of the paper's numbers (issue 16)."""
    teacher, student = _preset_sizes("paper")
    assert (teacher.params, student.params) == (13_011_048, 9_908_058)
    assert (teacher.macs, student.inference_macs) == (8_932_466_816, 2_205_979_648)
    assert student.macs == 2_503_857_152  # its training forward, with the prior heads
    for (params, macs), (p_ref, m_ref) in zip(
        ((teacher.params, teacher.macs), (student.params, student.inference_macs)),
        (PAPER["teacher"], PAPER["student"]),
    ):
        assert abs(params / p_ref - 1) < 0.05 and abs(macs / m_ref - 1) < 0.05


def test_paper_wide_preset_is_the_literal_width_512_network():
    teacher, student = _preset_sizes("paper-wide")
    assert (teacher.params, student.params) == (51_471_784, 47_373_210)
    assert student.params > 4 * PAPER["student"][0]
