"""Joints → hand-model mesh: a learned inverse-kinematics regressor.

Joint-only estimators (EHPE, the baseline) are scored on meshes too (PA-MPVPE, F-scores).
:func:`handpose.handmodel.fitting.fit_to_joints` fits the hand model to the joints by
Levenberg–Marquardt, which costs ≈ 0.7 CPU-s per hand (3 starts × 25 iterations); evaluating
every run of EHPE's ablations on 500 test hands that way would cost hours of CPU. This module
learns the same map once (seconds per thousand hands afterwards):

1. mirror left hands to right ones (x ↦ −x; exact for the open hand model and for MANO with
   the left shape fix), subtract the wrist;
2. rotate into a canonical frame: the rotation R that takes the flat mean hand's palm (wrist and
   the five finger bases, :data:`handpose.handmodel.fitting.PALM_JOINTS`) onto the joints' palm
   (Kabsch, :func:`handpose.geometry.procrustes_transform`), as the fit's initialisation does;
3. an MLP on the canonical joints predicts a correction rotation (6D, identity at the start), the
   15 finger rotations (axis-angle, flat hand at the start) and the shape β;
4. the hand model poses the mesh with global orientation R·R_c; the translation is the one that
   best puts its joints on the input joints (the mean offset), then the mirror is undone.

:func:`train_mesh_regressor` fits it on the ground-truth joints and vertices of a training split
(inputs with Gaussian noise, so that it also maps imperfect predicted joints to a plausible
hand); the loss is the mean distance of the joints and of every 7th vertex in millimetres. Saved as
``.safetensors`` with its settings in the file's metadata (:func:`save_mesh_regressor`,
:func:`load_mesh_regressor`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.geometry.procrustes import procrustes_transform
from handpose.geometry.rotations import rotation_6d_to_matrix
from handpose.handmodel import HandModel
from handpose.handmodel.fitting import PALM_JOINTS
from handpose.utils.io import atomic_path

__all__ = [
    "MeshRegressorConfig",
    "MeshRegressorOutput",
    "JointsToMesh",
    "train_mesh_regressor",
    "save_mesh_regressor",
    "load_mesh_regressor",
]

_MIRROR = (-1.0, 1.0, 1.0)
_IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class MeshRegressorConfig:
    """The regressor: hand model name, MLP width and depth, shape coefficients."""

    hand_model: str = "open"
    hidden: int = 512
    layers: int = 3
    num_betas: int = 10


@dataclass
class MeshRegressorOutput:
    """(B = batch) vertices (B, V, 3) and joints21 (B, 21, 3) in the input's frame (metres);
    hand_pose (B, 45), betas (B, num_betas), global_orient (B, 3, 3) of the right-hand model
    (for left hands: of the mirrored hand)."""

    vertices: Tensor
    joints21: Tensor
    hand_pose: Tensor
    betas: Tensor
    global_orient: Tensor


class JointsToMesh(nn.Module):
    """OpenPose-21 joints (camera frame, metres) → a hand-model mesh (module docstring)."""

    def __init__(self, config: MeshRegressorConfig | None = None) -> None:
        super().__init__()
        cfg = config or MeshRegressorConfig()
        self.config = cfg
        self.hand = HandModel(cfg.hand_model, side="right", flat_hand_mean=True)
        with torch.no_grad():
            rest = self.hand(hand_pose=torch.zeros(1, 45)).joints21[0]
        rest = rest - rest[:1]
        self.register_buffer("rest_palm", rest[list(PALM_JOINTS)].clone(), persistent=False)
        layers: list[nn.Module] = []
        width = 63
        for _ in range(cfg.layers):
            layers += [nn.Linear(width, cfg.hidden), nn.ReLU(inplace=True)]
            width = cfg.hidden
        out = nn.Linear(width, 6 + 45 + cfg.num_betas)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.mlp = nn.Sequential(*layers, out)
        self.register_buffer("identity6d", torch.tensor(_IDENTITY_6D), persistent=False)
        self.register_buffer("mirror", torch.tensor(_MIRROR), persistent=False)

    def forward(
        self, joints21: Tensor, is_left: Tensor | None = None, vertex_ids: Tensor | None = None
    ) -> MeshRegressorOutput:
        """joints21 (B, 21, 3) metres; is_left (B,) bool (None: all right hands); vertex_ids:
        only these vertices (training: the shape gradient through all vertices is costly)."""
        if joints21.ndim != 3 or tuple(joints21.shape[1:]) != (21, 3):
            raise HandposeError(
                f"joints21 must have shape (B, 21, 3), got {tuple(joints21.shape)}."
            )
        j = joints21.to(self.rest_palm.dtype)
        sign = torch.ones_like(j[:, :1, :])
        if is_left is not None:
            sign = torch.where(is_left.bool()[:, None, None], self.mirror, sign)
        j = j * sign
        p = j - j[:, :1]
        R = procrustes_transform(
            self.rest_palm.expand(p.shape[0], -1, -1), p[:, list(PALM_JOINTS)]
        ).R  # rest palm → target palm
        canonical = p @ R  # = (Rᵀ p_i)ᵢ
        x = self.mlp(10.0 * canonical.flatten(1))  # decimetres: inputs of order 1
        nb = self.config.num_betas
        Rc = rotation_6d_to_matrix(x[:, :6] + self.identity6d)
        pose, betas = x[:, 6:51], x[:, 51 : 51 + nb]
        out = self.hand(
            global_orient=R @ Rc,
            hand_pose=pose,
            betas=betas if nb else None,
            return_vertices=vertex_ids is None,
            vertex_ids=vertex_ids,
        )
        verts = out.vertices if vertex_ids is None else out.selected_vertices
        t = (j - out.joints21).mean(1, keepdim=True)
        return MeshRegressorOutput(
            vertices=(verts + t) * sign,
            joints21=(out.joints21 + t) * sign,
            hand_pose=pose,
            betas=betas,
            global_orient=R @ Rc,
        )


def _labels(source) -> tuple[Tensor, Tensor, Tensor]:
    """Every valid hand's (joints3d, vertices, is_left) of a schema source."""
    js, vs, left = [], [], []
    for i in range(len(source)):
        s = source[i]
        for slot in (0, 1):
            if bool(s["hand_valid"][slot]) and "vertices" in s and s["vertices"][slot].any():
                js.append(torch.as_tensor(s["joints3d"][slot]))
                vs.append(torch.as_tensor(s["vertices"][slot]))
                left.append(slot == 1)
    if not js:
        raise HandposeError("the training split has no hands with vertices to learn meshes from.")
    return torch.stack(js).float(), torch.stack(vs).float(), torch.tensor(left)


def train_mesh_regressor(
    source,
    config: MeshRegressorConfig | None = None,
    *,
    steps: int = 1000,
    batch_size: int = 128,
    lr: float = 1e-3,
    noise_mm: float = 5.0,
    vertex_stride: int = 7,
    seed: int = 0,
    progress: bool = False,
) -> tuple[JointsToMesh, dict]:
    """Train :class:`JointsToMesh` on a source's hands (schema samples with vertices).

    Args:
        source: a sequence of schema samples (e.g. ``open_source("DIR", "train")``); its
            ``meta["hand_model"]`` must match ``config.hand_model``.
        steps, batch_size, lr: Adam steps (cosine decay to 0).
        noise_mm: standard deviation of the Gaussian noise added to the input joints.
        vertex_stride: the loss uses every ``vertex_stride``-th vertex (and all joints).
    Returns:
        the model (eval mode) and ``{"hands", "steps", "final_loss_mm", ...}``.
    """
    from tqdm.auto import tqdm

    cfg = config or MeshRegressorConfig()
    meta = getattr(source, "meta", {}) or {}
    if meta.get("hand_model", cfg.hand_model) != cfg.hand_model:
        raise HandposeError(
            f"the data uses the {meta.get('hand_model')!r} hand model, the regressor "
            f"{cfg.hand_model!r}."
        )
    joints, verts, left = _labels(source)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = JointsToMesh(cfg)
    opt = torch.optim.Adam(model.mlp.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    n = joints.shape[0]
    ids = torch.arange(0, verts.shape[1], vertex_stride)
    verts = verts[:, ids]
    losses = []
    for _ in tqdm(range(steps), desc="mesh regressor", disable=not progress):
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        noisy = joints[idx] + noise_mm / 1000.0 * torch.randn(idx.shape[0], 21, 3, generator=g)
        out = model(noisy, left[idx], vertex_ids=ids)
        loss = 1000.0 * (
            (out.vertices - verts[idx]).norm(dim=-1).mean()
            + (out.joints21 - joints[idx]).norm(dim=-1).mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    tail = losses[-max(1, steps // 20) :]
    info = {
        "hands": n,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "noise_mm": noise_mm,
        "vertex_stride": vertex_stride,
        "seed": seed,
        "final_loss_mm": sum(tail) / len(tail),
    }
    return model.eval(), info


def save_mesh_regressor(model: JointsToMesh, path: str | os.PathLike, info: dict | None = None):
    """Write the weights (safetensors) with the config and ``info`` in its metadata."""
    from safetensors.torch import save_file

    meta = {"format": "handpose-mesh-regressor", "config": json.dumps(asdict(model.config))}
    meta["info"] = json.dumps(info or {})
    state = {k: v.contiguous() for k, v in model.mlp.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return Path(path)


def load_mesh_regressor(path: str | os.PathLike) -> tuple[JointsToMesh, dict]:
    """Read a file of :func:`save_mesh_regressor` → (model in eval mode, info)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise HandposeError(f"mesh regressor file '{path}' does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types
        raise HandposeError(f"'{path}' is not a readable safetensors file ({err}).") from None
    if meta.get("format") != "handpose-mesh-regressor":
        raise HandposeError(f"'{path}' is not a handpose mesh regressor.")
    model = JointsToMesh(MeshRegressorConfig(**json.loads(meta["config"])))
    model.mlp.load_state_dict(state)
    return model.eval(), json.loads(meta.get("info", "{}"))
