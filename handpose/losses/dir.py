"""DIR's training loss, per stage (../shared/reference/vision_methods.md §2.4).

For every estimate (the initial one and each refinement stage), with weights:

====================================  ======  ================================================
term                                  weight  on
====================================  ======  ================================================
joint uv                              10      normalised crop coordinates (±1 = crop edges)
mesh (vertex) uv                      10      same
joint xyz                             10      root-relative to joint 9 (middle MCP), ÷ 0.15 m
mesh xyz                              10      vertices minus joint 9, ÷ 0.15 m
edge length (:mod:`.mesh`)            1       per hand, ÷ 0.15 m
normal consistency (:mod:`.mesh`)     0.1     per hand
relative offset                       10      right wrist − left wrist, ÷ 0.15 m
====================================  ======  ================================================

and once, on the heads after the last stage: segmentation cross-entropy (0.1, class weights
0.1 / 0.45 / 0.45 for background / right / left) + Lovász-softmax (0.1) and the dense map (1).
Position terms use DIR's small-threshold Huber loss (:func:`huber`: quadratic below 0.01, then
``0.01·(|e| − 0.005)``), or L1 (``position_loss = "l1"``: the supplement's Table 2
"w/o Smooth L1"), or ``"l1_delta"``: ``δ·|e|``, L1 with the Huber loss's slope beyond δ (ours:
plain L1 also weighs the position terms 1/δ = 100 times more against the edge, normal,
segmentation and dense terms; ``l1_delta`` changes only the quadratic zone below δ).

Targets (:func:`dir_targets`) come from an image batch in the sample schema (crop
coordinates; :class:`~handpose.datasets.image_dataset.ImageDataset`): ``joints2d``,
``joints3d``, ``vertices`` (optional), ``K``, ``hand_valid``, ``joint_valid``, ``mask``
(optional; labels 0 background, 1 right, 2 left, 3 object → background) and ``extra_dense``
(optional (B, 3, S, S) template positions, metres). Ground-truth masks are reduced to the head's
resolution by majority vote over each block (ties → the larger label) and dense maps by block
means. Every term is a mean over the valid entries (hands with ``hand_valid``, joints with
``joint_valid``; the offset on frames with both hands); a term without any valid entry is 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from handpose.errors import HandposeError
from handpose.geometry.camera import project
from handpose.losses.mesh import edge_length_loss, normal_consistency_loss
from handpose.losses.segmentation import lovasz_softmax, weighted_cross_entropy
from handpose.models.dir.mano import POSITION_UNIT, HandsEstimate, pixels_to_normalised
from handpose.models.dir.network import DIROutput

__all__ = [
    "DIRLossConfig",
    "huber",
    "dir_targets",
    "estimate_loss",
    "dir_loss",
    "majority_downsample",
    "STAGE_TERMS",
]

ROOT = 9  # middle MCP: the root of the 3D terms
STAGE_TERMS = ("joints_uv", "vertices_uv", "joints_xyz", "vertices_xyz", "edge", "normal", "offset")


@dataclass(frozen=True)
class DIRLossConfig:
    """Weights of DIR's loss terms (module docstring) and the position loss.

    Attributes:
        joints_uv … dense: term weights (DIR's by default).
        huber_delta: threshold of the small-threshold Huber loss (0.01).
        position_loss: "huber" (DIR), "l1" or "l1_delta" (``huber_delta · |e|``).
        class_weights: cross-entropy weights of background, right, left.
        vertex_stride: the vertex terms use every k-th mesh vertex (1 = all, DIR);
        face_stride: the edge and normal terms use every k-th triangle (1 = all, DIR). The
            ``cpu-small`` preset uses 4 and 4: on a shared CPU the mesh terms of three estimates
            of two hands cost as much as the network.
    """

    joints_uv: float = 10.0
    vertices_uv: float = 10.0
    joints_xyz: float = 10.0
    vertices_xyz: float = 10.0
    edge: float = 1.0
    normal: float = 0.1
    offset: float = 10.0
    segmentation_ce: float = 0.1
    segmentation_lovasz: float = 0.1
    dense: float = 1.0
    huber_delta: float = 0.01
    position_loss: str = "huber"
    class_weights: tuple[float, float, float] = (0.1, 0.45, 0.45)
    vertex_stride: int = 1
    face_stride: int = 1

    def __post_init__(self) -> None:
        if self.vertex_stride < 1 or self.face_stride < 1:
            raise HandposeError("loss.vertex_stride and loss.face_stride must be ≥ 1.")
        if self.position_loss not in ("huber", "l1", "l1_delta"):
            raise HandposeError(
                "loss.position_loss must be 'huber', 'l1' or 'l1_delta', got "
                f"{self.position_loss!r}."
            )
        if self.huber_delta <= 0:
            raise HandposeError(f"loss.huber_delta must be > 0, got {self.huber_delta}.")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and v < 0:
                raise HandposeError(f"loss.{f.name} must be ≥ 0, got {v}.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DIRLossConfig:
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise HandposeError(
                f"unknown DIR loss option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}."
            )
        if "class_weights" in data:
            data["class_weights"] = tuple(float(v) for v in data["class_weights"])
        floats = {f.name for f in dataclasses.fields(cls) if f.type in ("float", float)}
        for k, v in data.items():
            if k in floats and isinstance(v, int) and not isinstance(v, bool):
                data[k] = float(v)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["class_weights"] = list(self.class_weights)
        return d


def huber(pred: Tensor, target: Tensor, delta: float = 0.01) -> Tensor:
    """DIR's element-wise "SmoothL1": ``½e²`` for |e| < δ, ``δ·(|e| − δ/2)`` beyond (no reduction).

    Example:
        >>> huber(torch.tensor([0.004, 0.03]), torch.zeros(2))
        tensor([8.0000e-06, 2.5000e-04])
    """
    e = (pred - target).abs()
    return torch.where(e < delta, 0.5 * e * e, delta * (e - 0.5 * delta))


def _position(cfg: DIRLossConfig, pred: Tensor, target: Tensor) -> Tensor:
    if cfg.position_loss == "l1":
        return (pred - target).abs()
    if cfg.position_loss == "l1_delta":
        return cfg.huber_delta * (pred - target).abs()
    return huber(pred, target, cfg.huber_delta)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of (..., K) ``values`` over the entries whose (...) ``mask`` is set."""
    m = mask.to(values.dtype)[..., None].expand_as(values)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def majority_downsample(labels: Tensor, size: tuple[int, int], num_classes: int) -> Tensor:
    """(B, H, W) integer labels → (B, h, w): the most frequent label of each block (ties → the
    larger label; H, W must be multiples of h, w)."""
    H, W = labels.shape[-2:]
    h, w = size
    if H % h or W % w:
        raise HandposeError(f"cannot reduce a {H}×{W} mask to {h}×{w} by whole blocks.")
    onehot = F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).to(torch.float64)
    frac = F.avg_pool2d(onehot, (H // h, W // w))
    # argmax returns the first maximum: reverse the classes to prefer the larger label on ties
    return num_classes - 1 - frac.flip(1).argmax(1)


def dir_targets(batch: Mapping[str, Any]) -> dict[str, Tensor | None]:
    """Normalised targets of an image batch (module docstring).

    Returns:
        ``joints_uv`` (B, 2, 21, 2), ``vertices_uv`` (B, 2, V, 2) or None, ``joints_xyz``
        (B, 2, 21, 3), ``vertices_xyz`` (B, 2, V, 3) or None, ``offset`` (B, 3), ``hand_valid``
        (B, 2), ``joint_valid`` (B, 2, 21), ``both`` (B,), ``labels`` (B, S, S) or None,
        ``dense`` (B, 3, S, S) ÷ 0.15 m or None.
    """
    image = batch["image"]
    S = image.shape[-1]
    if image.shape[-2] != S:
        raise HandposeError(f"DIR trains on square crops, got images {tuple(image.shape)}.")
    dt = image.dtype if image.is_floating_point() else torch.float32
    j3 = batch["joints3d"].to(dt)
    root = j3[:, :, ROOT : ROOT + 1]
    hv = batch["hand_valid"].bool()
    out: dict[str, Tensor | None] = {
        "joints_uv": pixels_to_normalised(batch["joints2d"].to(dt), S),
        "joints_xyz": (j3 - root) / POSITION_UNIT,
        "offset": (j3[:, 0, 0] - j3[:, 1, 0]) / POSITION_UNIT,
        "hand_valid": hv,
        "joint_valid": batch["joint_valid"].bool() & hv[..., None],
        "both": hv.all(-1),
        "vertices_uv": None,
        "vertices_xyz": None,
        "labels": None,
        "dense": None,
    }
    if batch.get("vertices") is not None:
        v = batch["vertices"].to(dt)
        K = batch["K"].to(dt)[:, None].expand(-1, 2, 3, 3)
        z_ok = (v[..., 2] > 0).all(-1)  # invalid slots hold zeros
        v_safe = torch.where((hv & z_ok)[..., None, None], v, v.new_tensor([0.0, 0.0, 1.0]))
        out["vertices_uv"] = pixels_to_normalised(project(v_safe, K), S)
        out["vertices_xyz"] = (v - root) / POSITION_UNIT
    if batch.get("mask") is not None:
        m = batch["mask"].long()
        out["labels"] = torch.where(m == 3, torch.zeros_like(m), m)
    if batch.get("extra_dense") is not None:
        d = batch["extra_dense"].to(dt)
        if d.ndim != 4 or d.shape[1] != 3:
            raise HandposeError(
                f"extra_dense must be (B, 3, S, S) in a training batch, got {tuple(d.shape)}."
            )
        out["dense"] = d / POSITION_UNIT
    return out


def estimate_loss(
    est: HandsEstimate,
    targets: Mapping[str, Tensor | None],
    faces: tuple[Tensor, Tensor],
    cfg: DIRLossConfig,
) -> dict[str, Tensor]:
    """The per-stage terms (unweighted) of one estimate."""
    hv, jv = targets["hand_valid"], targets["joint_valid"]
    terms = {
        "joints_uv": _masked_mean(_position(cfg, est.joints_uv, targets["joints_uv"]), jv),
        "joints_xyz": _masked_mean(
            _position(
                cfg,
                (est.joints - est.joints[:, :, ROOT : ROOT + 1]) / POSITION_UNIT,
                targets["joints_xyz"],
            ),
            jv,
        ),  # fmt: skip
        "offset": _masked_mean(_position(cfg, est.offset, targets["offset"]), targets["both"]),
    }
    if targets["vertices_xyz"] is not None and est.vertices is not None:
        k = cfg.vertex_stride
        pv = (est.vertices - est.joints[:, :, ROOT : ROOT + 1]) / POSITION_UNIT
        gv = targets["vertices_xyz"]
        vmask = hv[..., None].expand(pv[:, :, ::k].shape[:3])
        terms["vertices_uv"] = _masked_mean(
            _position(cfg, est.vertices_uv[:, :, ::k], targets["vertices_uv"][:, :, ::k]), vmask
        )
        terms["vertices_xyz"] = _masked_mean(_position(cfg, pv[:, :, ::k], gv[:, :, ::k]), vmask)
        edge = normal = pv.new_zeros(())
        for slot in range(2):
            f = faces[slot][:: cfg.face_stride]
            edge = edge + edge_length_loss(pv[:, slot], gv[:, slot], f, hv[:, slot])
            normal = normal + normal_consistency_loss(pv[:, slot], gv[:, slot], f, hv[:, slot])
        terms["edge"], terms["normal"] = edge / 2, normal / 2
    return terms


def dir_loss(
    output: DIROutput,
    targets: Mapping[str, Tensor | None],
    faces: tuple[Tensor, Tensor],
    config: DIRLossConfig | None = None,
) -> dict[str, Tensor]:
    """DIR's total loss.

    Args:
        output: the network output.
        targets: :func:`dir_targets` of the batch.
        faces: triangles of the right and left meshes (:attr:`DIRNetwork.faces`).
        config: weights (DIR's by default).
    Returns:
        ``"loss"`` (the weighted total), ``"stage{k}/{term}"`` for every estimate k (0 =
        initial) and term, and ``"segmentation_ce"``, ``"segmentation_lovasz"``, ``"dense"``
        when the heads and targets exist; all unweighted except ``"loss"``.
    """
    cfg = config or DIRLossConfig()
    ref = output.final.joints
    total = ref.new_zeros(())
    logs: dict[str, Tensor] = {}
    for k, est in enumerate(output.estimates):
        for name, value in estimate_loss(est, targets, faces, cfg).items():
            logs[f"stage{k}/{name}"] = value
            total = total + getattr(cfg, name) * value
    seg = output.segmentation
    if seg is not None and targets.get("labels") is not None:
        labels = majority_downsample(targets["labels"], seg.shape[-2:], 3)
        logs["segmentation_ce"] = weighted_cross_entropy(seg, labels, cfg.class_weights)
        logs["segmentation_lovasz"] = lovasz_softmax(seg.softmax(1), labels)
        total = total + cfg.segmentation_ce * logs["segmentation_ce"]
        total = total + cfg.segmentation_lovasz * logs["segmentation_lovasz"]
    if output.dense is not None and targets.get("dense") is not None:
        d = targets["dense"]
        h, w = output.dense.shape[-2:]
        gt = F.avg_pool2d(d, (d.shape[-2] // h, d.shape[-1] // w))
        logs["dense"] = _position(cfg, output.dense, gt).mean()
        total = total + cfg.dense * logs["dense"]
    logs["loss"] = total
    return logs
