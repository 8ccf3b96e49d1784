"""Image-model checkpoints for the image inference tests, written without training.

``write_baseline_checkpoint`` stores a randomly initialised baseline of the ``tiny`` preset
(mobilenetv3_small_050, 64 px) exactly as the harness lays out its checkpoints (the
``handpose`` metadata of ``handpose.training.harness`` and the ``model.`` weights prefix), with
its head perturbed so that joints spread over the crop. ``ToyMethods`` registers small models of
the other output kinds (two hands with a mesh and MANO parameters, a weak-perspective camera, a
right-hand-only model, a video window model) with the harness, so that inference and export are
tested on every kind the generic code supports, as a method registered later would use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from handpose.geometry.camera import project


def _meta(method: str, stage: str, config: dict) -> dict:
    from handpose import __version__

    return {
        "format": "handpose-model",
        "format_version": 1,
        "handpose_version": __version__,
        "method": method,
        "stage": stage,
        "config": config,
        "data": "",
        "data_fingerprint": "",
        "requires": {},
    }


def write_checkpoint(path: Path, method: str, stage: str, config: dict, model: nn.Module) -> Path:
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"handpose": _meta(method, stage, config), "state_dict": state, "epoch": 0}, path)
    return Path(path)


def baseline_model(seed: int = 0):
    from handpose.training import harness

    cfg = harness.load_method_config("baseline", "tiny")
    from handpose.training.methods.baseline import _build

    torch.manual_seed(seed)
    model = _build(cfg).eval()
    with torch.no_grad():  # spread the heatmaps: joints all over the crop, depths varied
        model.head.deconv[0].weight.mul_(1000.0)
        model.head.final.weight.normal_(0, 1.0)
    return cfg, model


def write_baseline_checkpoint(path: Path, seed: int = 0) -> Path:
    from handpose.training.config import config_to_dict

    cfg, model = baseline_model(seed)
    return write_checkpoint(path, "baseline", "main", config_to_dict(cfg), model)


# ------------------------------------------------------------------------------ toy methods


@dataclass(frozen=True)
class ToyConfig:
    name: str = "toy"
    seed: int = 0
    kind: str = "two_hands"  # two_hands | weak | right_only | video
    size: int = 32
    window: int = 3


@dataclass
class ToyOutput:
    joints3d: Tensor | None = None
    joints2d: Tensor | None = None
    vertices: Tensor | None = None
    mano_global_orient: Tensor | None = None
    mano_hand_pose: Tensor | None = None
    mano_betas: Tensor | None = None
    mano_transl: Tensor | None = None
    camera: Tensor | None = None
    joints: Tensor | None = None
    extra: dict = field(default_factory=dict)


class ToyImageModel(nn.Module):
    """A tiny conv net whose outputs depend on the image (and K where it takes it)."""

    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        self.config = cfg
        self.image_size = cfg.size
        self.kind = cfg.kind
        if cfg.kind == "right_only":
            self.input_sides = "right"
        hands = 2 if cfg.kind == "two_hands" else 1
        self.hands = hands
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 4, stride=4), nn.ReLU(), nn.AvgPool2d(4), nn.Flatten()
        )
        self.out = nn.Linear(32, hands * (21 * 3 + 8 * 3 + 3 + 3 + 45 + 10 + 3))
        with torch.no_grad():
            self.out.weight.normal_(0, 0.2)

    def _decode(self, feats: Tensor):
        h = self.hands
        y = self.out(feats).reshape(feats.shape[0], h, -1)
        j = 0.03 * y[..., :63].reshape(-1, h, 21, 3)
        v = 0.03 * y[..., 63:87].reshape(-1, h, 8, 3)
        rest = y[..., 87:]
        return j, v, rest

    def forward(self, image: Tensor, K: Tensor):
        if self.kind == "video":
            return self._video(image, K)
        j, v, rest = self._decode(self.net(image))
        if self.kind == "weak":
            s = 8.0 + torch.sigmoid(rest[..., 0])  # 1/m
            cam = torch.stack([s, 0.02 * rest[..., 1], 0.02 * rest[..., 2]], -1)[:, 0]
            return ToyOutput(camera=cam, joints=j[:, 0])
        offset = torch.tensor([0.0, 0.0, 0.5]) + 0.1 * torch.tanh(rest[..., None, :3])
        j3 = j + offset
        vv = v + offset
        Kh = K[:, None].expand(-1, j3.shape[1], 3, 3)
        out = ToyOutput(
            joints3d=j3,
            joints2d=project(j3, Kh),
            vertices=vv,
            mano_global_orient=rest[..., 3:6],
            mano_hand_pose=rest[..., 6:51],
            mano_betas=rest[..., 51:61],
            mano_transl=rest[..., 61:64],
        )
        if self.hands == 1:
            for name in ("joints3d", "joints2d", "vertices") + tuple(
                n for n in vars(out) if n.startswith("mano_")
            ):
                setattr(out, name, getattr(out, name)[:, 0])
        return out

    # a causal "temporal" model: frame t's joints are the mean of frames ≤ t's features
    @property
    def window(self) -> int:
        return self.config.window if self.kind == "video" else 1

    def _video(self, image: Tensor, K: Tensor):
        single = image.ndim == 4
        if single:
            image, K = image[:, None], K[:, None]
        b, t = image.shape[:2]
        f = self.net(image.reshape(b * t, *image.shape[2:])).reshape(b, t, -1)
        f = f.cumsum(1) / torch.arange(1, t + 1, dtype=f.dtype)[None, :, None]
        j, _, rest = self._decode(f.reshape(b * t, -1))
        j3 = (j[:, 0] + torch.tensor([0.0, 0.0, 0.5])).reshape(b, t, 21, 3)
        out = ToyOutput(joints3d=j3, joints2d=project(j3, K))
        if single:
            out.joints3d, out.joints2d = out.joints3d[:, 0], out.joints2d[:, 0]
        return out


def register_toy_methods():
    """Register ``toy-<kind>`` methods with the harness (idempotent)."""
    from handpose.training.registry import Method, Stage, get_method, register_method

    for kind in ("two_hands", "weak", "right_only", "video"):
        name = f"toy-{kind}"
        try:
            get_method(name)
            continue
        except Exception:
            pass
        register_method(
            Method(
                name=name,
                config=ToyConfig,
                stages=(
                    Stage(
                        "main",
                        module=lambda ctx: None,
                        data=lambda ctx: None,
                        build_model=ToyImageModel,
                    ),
                ),
            )
        )


def write_toy_checkpoint(path: Path, kind: str, seed: int = 0) -> Path:
    register_toy_methods()
    cfg = ToyConfig(kind=kind)
    torch.manual_seed(seed)
    model = ToyImageModel(cfg)
    config = {"name": "toy", "seed": 0, "kind": kind, "size": cfg.size, "window": cfg.window}
    return write_checkpoint(path, f"toy-{kind}", "main", config, model)


# ------------------------------------------------------------------------ the paper methods

# method → (stage, overrides of its tiny preset)
PAPER_METHODS = {
    "ehpe": ("pg", ()),
    "dir": ("main", ()),
    "pgte": ("main", ()),
    "vibe": ("main", ("variant=vibe",)),
}


def write_method_checkpoint(path: Path, name: str, seed: int = 0) -> Path:
    """A ``tiny`` checkpoint of a paper method (``PAPER_METHODS``), built by the method's own
    ``build_model`` from its resolved preset, as ``harness.load_model`` rebuilds it, and stored in
    the harness layout. The weights are "trained-like": every parameter moved by N(0, 0.05²)
    (zero-initialised output layers then move the outputs) and normalisation statistics away
    from 0 / 1, so that outputs depend on the input."""
    from handpose.training import harness
    from handpose.training.config import config_to_dict
    from handpose.training.registry import get_method

    method = "pgte" if name == "vibe" else name
    stage, sets = PAPER_METHODS[name]
    cfg = harness.load_method_config(method, "tiny", list(sets))
    torch.manual_seed(seed)
    model = get_method(method).stage(stage).build_model(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.uniform_(-0.2, 0.2, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
    return write_checkpoint(path, method, stage, config_to_dict(cfg), model)
