"""DIR's size: parameters and FLOPs, in total and per part, beside the supplement's figures.

The supplement (§1) reports, for the network with two refinement stages at 256×256 on an A100:
**55.1 M parameters and 30.8 G FLOPs** (it does not say whether its "FLOPs" are
multiply-accumulates, as most papers' counters report, or 2 × MACs).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` for one image (batch 1,
eval mode): a multiply-add is 2 FLOPs for matrix products and convolutions; element-wise work
(activations, norms, additions, the bone projection's weighting) is not counted. MACs =
FLOPs / 2. The hand model's skinning (the ``decoder``: both hands' meshes, every estimate) is
reported separately because it depends on the hand model, not on DIR.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from handpose.models.dir.config import DIRConfig
from handpose.models.dir.network import DIRNetwork
from handpose.models.mgdhand.size import count_parameters

__all__ = ["PAPER_PARAMS_M", "PAPER_FLOPS_G", "DIRSize", "measure_dir_size"]

PAPER_PARAMS_M = 55.1
PAPER_FLOPS_G = 30.8


@dataclass(frozen=True)
class DIRSize:
    """Size of one DIR network at one input size.

    Attributes:
        params: learned parameters (hand-model arrays are buffers, not counted).
        flops: network FLOPs for one image, hand model excluded.
        hand_model_flops: FLOPs of the hand model (skinning both hands per estimate).
        params_by_part, flops_by_part: backbone, initial, stage1, stage2, heads.
        image_size: S.
    """

    params: int
    flops: int
    hand_model_flops: int
    params_by_part: dict[str, int]
    flops_by_part: dict[str, int]
    image_size: int

    @property
    def macs(self) -> int:
        return self.flops // 2

    def as_dict(self) -> dict:
        return {**asdict(self), "macs": self.macs}


def measure_dir_size(
    config: DIRConfig | dict | None = None, network: DIRNetwork | None = None
) -> DIRSize:
    """Parameters and FLOPs of a DIR network (default: DIR's configuration) for one image."""
    net = network if network is not None else DIRNetwork(config)
    net = net.eval()
    S = net.config.image_size
    parts = {"backbone": net.backbone, "initial": net.initial}
    for k, stage in enumerate(net.stages):
        parts[f"stage{k + 1}"] = stage
    heads = [m for m in (net.segmentation_head, net.dense_head) if m is not None]
    params = {name: count_parameters(m) for name, m in parts.items()}
    params["heads"] = sum(count_parameters(m) for m in heads)
    counter = FlopCounterMode(display=False)
    # Not under no_grad: the module tracker trips over parameter views made in no-grad mode.
    with counter:
        net(torch.zeros(1, 3, S, S))
    counts = counter.get_flop_counts()

    def total(name: str) -> int:
        return int(sum(counts.get(name, {}).values()))

    top = type(net).__name__
    flops = {name: total(f"{top}.{name}") for name in ("backbone", "initial")}
    for k, stage in enumerate(net.stages):  # its parts are called one by one, not the stage
        flops[f"stage{k + 1}"] = sum(
            total(f"{top}.stages.{k}.{child}") for child, _ in stage.named_children()
        )
    flops["heads"] = total(f"{top}.segmentation_head") + total(f"{top}.dense_head")
    hand = total(f"{top}.decoder")
    return DIRSize(
        params=count_parameters(net),
        flops=total("Global") - hand,
        hand_model_flops=hand,
        params_by_part=params,
        flops_by_part=flops,
        image_size=S,
    )
