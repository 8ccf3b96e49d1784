"""``HandModel``: the MANO-compatible hand layer (a thin ``nn.Module`` over :mod:`.lbs`).

Defaults differ between the popular MANO layers (../shared/reference/mano.md §5); here each one
is an explicit option:

- ``flat_hand_mean`` — True (default here, like manopth and manotorch): ``hand_pose`` is the full
  finger articulation, zero = flat hand. False (smplx's default): ``hands_mean`` is added to
  axis-angle and PCA inputs, zero = MANO's relaxed mean pose. θ_flat = θ_nonflat + hands_mean.
  handpose's synthetic data always stores full articulation (flat convention).
- units — metres, always (manopth outputs millimetres).
- joints — ``joints`` is MANO-16 order (smplx); ``joints21`` is OpenPose-21 order (manopth,
  manotorch, FreiHAND), i.e. the 16 joints plus 5 fingertip vertices, reordered.
- fingertips — a named preset from :data:`TIP_PRESETS` (MANO default ``"smplx"``) or the model's
  own tips (open model).
- the global rotation pivots about the shaped root joint J₀(β); ``transl`` is added afterwards.

Buffers are registered non-persistent: the (possibly licensed) model arrays never end up in a
checkpoint's ``state_dict``; a module is rebuilt from its model files.

How the forward pass is organised (the speed notes are in :mod:`handpose.handmodel.lbs`): it works
on one *point set* per call, ``[16 rest joints | 21 OpenPose points | V vertices]`` (the vertices
only when ``return_vertices=True``). Rest joints are linear in β like vertices
(``J = 𝒥T̄ + 𝒥S·β``, exact) and posed joints are rest joints skinned with one-hot weights, so a
single blend-shape GEMM gives v_posed and J(β), a single skinning call gives the posed mesh, the
MANO joints and the OpenPose joints, and every output is a slice (no gather).

Batches below ``batch_last_from`` use :func:`~handpose.handmodel.lbs.rigid_transforms_t` /
:func:`~handpose.handmodel.lbs.skin_t` (few kernels), and the plain call with ``(N, 3)`` +
``(N, 45)`` (or ``(N, k)`` PCA) tensors of the model's dtype skips the general input handling
(``_forward_small``): at batch 1 the Python around the kernels costs as much as the kernels.
One hand (N = 1) runs the chain in level-major joint order
(:func:`~handpose.handmodel.lbs.rigid_transforms_1`, skinning weights stored in that order):
fewer kernels and views again. One hand that needs no gradient (no input requires grad, or grad
is off) runs the same algorithm in NumPy (:mod:`handpose.handmodel.one_hand`): at batch 1 torch's
per-operator dispatch costs more than the arithmetic (docs/benchmarks/handmodel.md). Autograd,
tracing, ONNX export, torch.compile and dispatch modes (FLOP counters) always get the torch path;
``numpy_inference = False`` turns the NumPy path off.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.handmodel.conventions import (
    MANO_PARENTS,
    MANO_TO_OPENPOSE,
    OPENPOSE_TIPS,
    TIP_PRESETS,
)
from handpose.handmodel.data import HandModelData, load_hand_model_data
from handpose.handmodel.lbs import (
    LEVEL_MAJOR,
    _rodrigues_flat,
    batch_rodrigues,
    joint_shape_space,
    rigid_transforms,
    rigid_transforms_1,
    rigid_transforms_t,
    shaped_joints,
    skin,
    skin_batch_last,
    skin_t,
)
from handpose.handmodel.one_hand import forward_one, one_hand_arrays

__all__ = ["HandModel", "HandModelOutput"]

_MANO_NUM_VERTICES = 778
_NJ = 16  # MANO joints
_NP = 16 + 21  # rest joints + OpenPose points at the head of every point set


def _numpy(x: Tensor) -> np.ndarray:
    """The NumPy view of a CPU tensor (detached first only when it requires grad)."""
    return (x.detach() if x.requires_grad else x).numpy()


def _tracing() -> bool:
    """True while a TorchScript trace or an ONNX export records the graph.

    The chunked skinning loop's bounds depend on the batch size, which a trace would bake in;
    the single pass computes the same numbers for any batch, so traces take that path.
    """
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


@dataclass
class HandModelOutput:
    """Output of :class:`HandModel` (metres; ``...`` = the broadcast batch shape of the inputs).

    Tensors may be strided views of one buffer (use ``reshape``, not ``view``, on them).

    Attributes:
        vertices: (..., V, 3) mesh vertices, or None when ``return_vertices=False``.
        joints: (..., 16, 3) joints in MANO order (wrist, index×3, middle×3, pinky×3, ring×3,
            thumb×3).
        joints21: (..., 21, 3) OpenPose order (wrist, thumb×4, index×4, middle×4, ring×4,
            pinky×4); the five tips are the model's fingertip vertices.
        global_rotations: (..., 16, 3, 3) world rotation of each joint frame (MANO order).
        selected_vertices: (..., K, 3) the vertices asked for with ``vertex_ids``, else None.
    """

    vertices: Tensor | None
    joints: Tensor
    joints21: Tensor
    global_rotations: Tensor
    selected_vertices: Tensor | None = None

    @property
    def global_transforms(self) -> Tensor:
        """(..., 16, 4, 4) world transform of each joint frame: ``[R_k | joint_k; 0 0 0 1]``."""
        top = torch.cat([self.global_rotations, self.joints[..., None]], dim=-1)
        bottom = torch.zeros_like(top[..., :1, :])
        bottom[..., 0, 3] = 1.0
        return torch.cat([top, bottom], dim=-2)

    @property
    def tips(self) -> Tensor:
        """(..., 5, 3) fingertips (thumb, index, middle, ring, pinky)."""
        return self.joints21[..., list(OPENPOSE_TIPS), :]


def _broadcast(*shapes) -> torch.Size:
    """``torch.broadcast_shapes`` with a user-facing error for mismatched batch dimensions."""
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError:
        dims = " vs ".join(str(tuple(s)) for s in shapes)
        raise HandposeError(
            f"the inputs' leading (batch) dimensions do not broadcast: {dims}."
        ) from None


class HandModel(nn.Module):
    """MANO-structured hand layer: pose + shape → mesh and joints (metres).

    Args:
        model: ``"open"`` (embedded default), ``"mano"`` (official files found via ``mano_dir``
            or ``$HANDPOSE_MANO_DIR``), a path to a MANO ``.pkl`` / converted ``.npz``, or a
            :class:`HandModelData`.
        side: ``"right"`` / ``"left"``; None = the file's own side, else right. The open left
            hand is the exact mirror of the right one.
        flat_hand_mean: True: ``hand_pose`` is the full articulation (zero = flat hand; manopth,
            manotorch). False: ``hands_mean`` is added to axis-angle and PCA inputs (smplx's
            default). Rotation-matrix inputs are always the full local rotations.
        num_pca_comps: None: ``hand_pose`` is axis-angle (..., 45) / (..., 15, 3) or rotation
            matrices (..., 15, 3, 3). k: ``hand_pose`` is (..., k) coefficients of the first k
            rows of ``hands_components`` (any 1 ≤ k ≤ 45).
        tip_preset: None: the model's own fingertips (MANO files: ``"smplx"``). A name from
            :data:`TIP_PRESETS` (``smplx``, ``freihand``, ``manopth``, ``manopth_left``,
            ``interhand``; 778-vertex MANO mesh only; ``"manopth"`` on a left hand uses
            ``manopth_left``, as manopth does), ``"model"``, or 5 vertex ids.
        fix_left_shapedirs: negate the official MANO_LEFT ``shapedirs[:, 0, :]`` (InterHand2.6M
            annotations use it, DexYCB's do not), ``"auto"`` for InterHand2.6M's detection rule.
        dtype: float32 or float64 buffers; inputs are converted to it.
        mano_dir: folder with the MANO files (overrides ``$HANDPOSE_MANO_DIR``).

    Example:
        >>> model = HandModel("open", side="right")  # doctest: +SKIP
        >>> out = model(hand_pose=torch.zeros(2, 45), betas=torch.zeros(2, 10))  # doctest: +SKIP
        >>> out.joints21.shape  # doctest: +SKIP
        torch.Size([2, 21, 3])
    """

    # Batches of at least ``batch_last_from`` hands are skinned with the batch stored last
    # (lbs.skin_batch_last); above ``chunk_size`` hands in chunks of that size, so that the
    # per-vertex blended transforms (12 numbers per vertex) of a chunk stay in cache instead of
    # round-tripping through main memory (see benchmarks/bench_handmodel.py). Smaller batches
    # use the plain layout (fewer kernels). All paths compute the same numbers; only batches
    # above ``chunk_size`` run a Python loop.
    chunk_size = 64
    batch_last_from = 8
    # One hand (batch 1) that needs no gradient runs in NumPy (handpose/handmodel/one_hand.py):
    # at batch 1 torch's per-operator dispatch costs more than the arithmetic. False: always torch.
    numpy_inference = True

    def __init__(
        self,
        model: str | os.PathLike | HandModelData = "open",
        side: str | None = None,
        flat_hand_mean: bool = True,
        num_pca_comps: int | None = None,
        tip_preset: str | Sequence[int] | None = None,
        fix_left_shapedirs: bool | str = False,
        dtype: torch.dtype = torch.float32,
        *,
        mano_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        if dtype not in (torch.float32, torch.float64):
            raise HandposeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        data = load_hand_model_data(
            model, side, fix_left_shapedirs=fix_left_shapedirs, mano_dir=mano_dir
        )
        self.model_data = data
        self.side = data.side
        self.name = data.name
        self.flat_hand_mean = bool(flat_hand_mean)
        V, nb = data.num_vertices, data.num_betas
        self.num_vertices = V
        self.num_betas = nb
        parents = tuple(data.parents)
        self._parents = MANO_PARENTS if parents == MANO_PARENTS else parents

        n_comps = data.hands_components.shape[0]
        if num_pca_comps is not None and not 1 <= int(num_pca_comps) <= n_comps:
            raise HandposeError(
                f"num_pca_comps must be between 1 and {n_comps}, got {num_pca_comps}"
            )
        self.num_pca_comps = None if num_pca_comps is None else int(num_pca_comps)
        self.tip_preset, tip_ids = self._resolve_tips(tip_preset, data)

        f64 = torch.float64
        v_template = torch.as_tensor(data.v_template, dtype=f64)
        shapedirs = torch.as_tensor(data.shapedirs, dtype=f64)
        posedirs = torch.as_tensor(data.posedirs, dtype=f64)
        J_regressor = torch.as_tensor(data.J_regressor, dtype=f64)
        weights = torch.as_tensor(data.weights, dtype=f64)
        # Joint template and joint shape directions in float64, then cast (exact: see lbs.py).
        J_template, J_shapedirs = joint_shape_space(J_regressor, v_template, shapedirs)
        # Models without pose correctives (all-zero posedirs) skip the pose part of the GEMM.
        self._has_posedirs = bool(posedirs.abs().max() > 0)
        self._arrays = (v_template, shapedirs, posedirs, weights, J_template, J_shapedirs)

        # Point sets: [16 rest joints | 21 OpenPose points | extra vertices].
        mesh = self._point_set(torch.arange(V), tip_ids)
        head = self._point_set(torch.zeros(0, dtype=torch.long), tip_ids)

        def buf(name: str, value, dt: torch.dtype = dtype) -> None:
            value = torch.as_tensor(np.asarray(value) if not isinstance(value, Tensor) else value)
            self.register_buffer(name, value.to(dt), persistent=False)

        for prefix, arrays in (("mesh", mesh), ("head", head)):
            buf(f"{prefix}_template", arrays[0])  # (P, 3)
            buf(f"{prefix}_basis", arrays[1])  # (B [+ 144], P·3)
            buf(f"{prefix}_weights", arrays[2])  # (P, 16)
            # The same weights with the joints in level-major order (the one-hand path).
            buf(f"{prefix}_weights_lm", arrays[2][:, list(LEVEL_MAJOR)])
        level_major = torch.tensor(LEVEL_MAJOR)
        buf("level_major", level_major, torch.long)
        buf("level_major_inv", torch.argsort(level_major), torch.long)
        # The head in homogeneous coordinates (x, y, z, 1) for small batches: skinning the
        # 37 head points is then one batched product (lbs.skin_t); the extra GEMM column
        # costs nothing at this size (for the mesh it would cost more than it saves).
        P = head[0].shape[0]
        buf("head_template_h", torch.cat([head[0], head[0].new_ones(P, 1)], dim=1))  # (P, 4)
        basis_h = torch.nn.functional.pad(head[1].view(-1, P, 3), (0, 1))
        buf("head_basis_h", basis_h.reshape(-1, P * 4))  # (B [+ 144], P·4)
        buf("v_template", v_template)
        buf("weights", weights)
        buf("J_regressor", J_regressor)
        buf("J_template", J_template)
        buf("J_shapedirs", J_shapedirs)
        buf("hands_components", data.hands_components)
        buf("hands_mean", data.hands_mean)
        buf("pca_basis", data.hands_components[: self.num_pca_comps or n_comps])
        buf("faces", data.faces, torch.long)
        buf("parents", np.asarray(self._parents), torch.long)
        buf("tip_ids", np.asarray(tip_ids), torch.long)
        # The NumPy copies of the point sets for one hand (one_hand.py), built on first use.
        self._one_hand: dict[str, tuple] = {}

    # ------------------------------------------------------------------ construction helpers
    def _point_set(self, vertex_ids: Tensor, tip_ids) -> tuple[Tensor, Tensor, Tensor]:
        """Template (P, 3), fused blend basis (B [+ 144], P·3) and weights (P, 16) of the point
        set ``[16 rest joints | 21 OpenPose points | vertices vertex_ids]`` (float64).

        Pose correctives P·vec(R_k − I) are computed as P·vec(R_k) − P·vec(I): the constant part
        is folded into the template, so the pose coefficients are the raw entries of all 16
        rotations (the root's 9 basis rows are zero), which saves kernels on every call.
        """
        v_template, shapedirs, posedirs, weights, J_template, J_shapedirs = self._arrays
        nb = shapedirs.shape[2]
        eye_feats = torch.eye(3, dtype=torch.float64).flatten().repeat(15)  # vec(I) × 15
        zeros_p = posedirs.new_zeros(_NJ, 3, 135)
        # Each point is a MANO joint (one-hot weight, no correctives) or a vertex.
        T, S, P, W = [], [], [], []
        eye16 = torch.eye(_NJ, dtype=torch.float64)

        def add_joints(ks: list[int]) -> None:
            T.append(J_template[ks])
            S.append(J_shapedirs[ks])
            P.append(zeros_p[: len(ks)])
            W.append(eye16[ks])

        def add_vertices(ids: Tensor) -> None:
            corr = posedirs[ids] @ eye_feats if self._has_posedirs else 0.0
            T.append(v_template[ids] - corr)
            S.append(shapedirs[ids])
            P.append(posedirs[ids])
            W.append(weights[ids])

        add_joints(list(range(_NJ)))
        for k in MANO_TO_OPENPOSE:  # OpenPose point: a MANO joint or fingertip k − 16
            if k < _NJ:
                add_joints([k])
            else:
                add_vertices(torch.tensor([tip_ids[k - _NJ]]))
        add_vertices(vertex_ids)
        template, S, P, W = torch.cat(T), torch.cat(S), torch.cat(P), torch.cat(W)
        rows = [S.reshape(-1, nb).T]
        if self._has_posedirs:
            P = torch.cat([P.new_zeros(P.shape[0], 3, 9), P], dim=2)  # root rotation: no rows
            rows.append(P.reshape(-1, 144).T)
        return template, torch.cat(rows), W

    @staticmethod
    def _resolve_tips(
        tip_preset: str | Sequence[int] | None, data: HandModelData
    ) -> tuple[str, tuple[int, ...]]:
        V = data.num_vertices
        if tip_preset is None or tip_preset == "model":
            own = tuple(data.tip_ids)
            is_smplx = V == _MANO_NUM_VERTICES and own == TIP_PRESETS["smplx"]
            return ("smplx" if is_smplx else "model"), own
        if isinstance(tip_preset, str):
            name = tip_preset
            if name == "manopth" and data.side == "left":
                name = "manopth_left"  # manopth switches the middle tip (444 → 445) for left
            if name not in TIP_PRESETS:
                raise HandposeError(
                    f"unknown tip preset {tip_preset!r}; choose one of {sorted(TIP_PRESETS)}, "
                    "'model' or 5 vertex ids"
                )
            if V != _MANO_NUM_VERTICES:
                raise HandposeError(
                    f"tip preset {tip_preset!r} indexes the 778-vertex MANO mesh but this model "
                    f"has {V} vertices; use tip_preset=None for the model's own fingertips"
                )
            return name, TIP_PRESETS[name]
        ids = tuple(int(i) for i in tip_preset)
        if len(ids) != 5 or not all(0 <= i < V for i in ids):
            raise HandposeError(f"tip_preset must be 5 vertex ids below {V}, got {ids}")
        return "custom", ids

    # ------------------------------------------------------------------ properties
    @property
    def shapedirs(self) -> Tensor:
        """(V, 3, B) shape basis."""
        V, nb = self.num_vertices, self.num_betas
        return self.mesh_basis[:nb, _NP * 3 :].T.reshape(V, 3, nb)

    @property
    def posedirs(self) -> Tensor:
        """(V, 3, 135) pose-corrective basis (zeros for a model without correctives)."""
        V = self.num_vertices
        if not self._has_posedirs:
            return self.v_template.new_zeros(V, 3, 135)
        return self.mesh_basis[self.num_betas + 9 :, _NP * 3 :].T.reshape(V, 3, 135)

    def extra_repr(self) -> str:
        return (
            f"model={self.name!r}, side={self.side!r}, vertices={self.num_vertices}, "
            f"flat_hand_mean={self.flat_hand_mean}, num_pca_comps={self.num_pca_comps}, "
            f"tips={self.tip_preset}{tuple(self.tip_ids.tolist())}"
        )

    # ------------------------------------------------------------------ inputs
    def _as_input(self, x, name: str) -> Tensor:
        dtype = self.v_template.dtype
        if not isinstance(x, Tensor):
            x = torch.as_tensor(np.asarray(x), device=self.v_template.device)
        elif x.dtype is dtype:
            return x
        if not x.is_floating_point():
            raise HandposeError(f"{name} must be a floating-point tensor, got {x.dtype}")
        return x.to(dtype=dtype)

    def _finger_pose(self, hand_pose: Tensor) -> tuple[Tensor, bool]:
        """→ (axis-angle (..., 45) or rotmats (..., 15, 3, 3), is_rotmat)."""
        shape = tuple(hand_pose.shape)
        if self.num_pca_comps is not None:
            k = self.num_pca_comps
            if shape[-1:] != (k,):
                raise HandposeError(
                    f"hand_pose must be (..., {k}) PCA coefficients, got shape {shape}"
                )
            aa = hand_pose @ self.pca_basis
        elif shape[-1:] == (45,):
            aa = hand_pose
        elif shape[-3:] == (15, 3, 3):
            return hand_pose, True
        elif shape[-2:] == (15, 3):
            aa = hand_pose.flatten(-2)
        else:
            raise HandposeError(
                "hand_pose must be (..., 45) or (..., 15, 3) axis-angle or (..., 15, 3, 3) "
                f"rotation matrices, got shape {shape}"
            )
        if not self.flat_hand_mean:
            aa = aa + self.hands_mean
        return aa, False

    @staticmethod
    def _global_is_rotmat(go: Tensor, batch: tuple[int, ...] | None) -> bool:
        shape = tuple(go.shape)
        if batch is not None and shape == batch + (3,):
            return False
        if shape[-2:] == (3, 3):
            return True
        if shape[-1:] == (3,):
            return False
        raise HandposeError(
            f"global_orient must be (..., 3) axis-angle or (..., 3, 3) rotation, got {shape}"
        )

    def _rotations(self, go: Tensor | None, hp: Tensor | None, other: tuple | None) -> Tensor:
        """Local rotations (..., 16, 3, 3), root first."""
        hp_rotmat = False
        if hp is not None:
            hp, hp_rotmat = self._finger_pose(hp)
            batch = tuple(hp.shape[:-3] if hp_rotmat else hp.shape[:-1])
        else:  # zero articulation: the flat hand, or the mean pose when not flat
            hp = self.hands_mean if not self.flat_hand_mean else self.hands_mean.new_zeros(45)
            batch = other
        go_rotmat = go is not None and self._global_is_rotmat(go, batch)
        if go is None:
            go = self.hands_mean.new_zeros(3)
        if not hp_rotmat and not go_rotmat:
            # Common case: one Rodrigues call over all 16 joints.
            if go.shape[:-1] != hp.shape[:-1]:
                b = _broadcast(go.shape[:-1], hp.shape[:-1])
                go, hp = go.expand(b + (3,)), hp.expand(b + (45,))
            return batch_rodrigues(torch.cat([go, hp], dim=-1).unflatten(-1, (_NJ, 3)))
        R_fingers = hp if hp_rotmat else batch_rodrigues(hp.unflatten(-1, (15, 3)))
        R_root = go if go_rotmat else batch_rodrigues(go)
        if R_root.shape[:-2] == R_fingers.shape[:-3]:  # no expand: a trace would bake its size
            return torch.cat([R_root[..., None, :, :], R_fingers], dim=-3)
        b = _broadcast(R_root.shape[:-2], R_fingers.shape[:-3])
        return torch.cat(
            [R_root.expand(b + (3, 3))[..., None, :, :], R_fingers.expand(b + (15, 3, 3))], dim=-3
        )

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        global_orient: Tensor | None = None,
        hand_pose: Tensor | None = None,
        betas: Tensor | None = None,
        transl: Tensor | None = None,
        return_vertices: bool = True,
        vertex_ids: Tensor | Sequence[int] | None = None,
    ) -> HandModelOutput:
        """Pose and shape the hand.

        Args:
            global_orient: None (identity), (..., 3) axis-angle or (..., 3, 3) rotation of the
                root; it pivots about the shaped root joint J₀(β). A tensor whose shape is the
                batch shape of ``hand_pose`` (or of ``betas``/``transl`` when there is no
                ``hand_pose``) + (3,) is read as axis-angle; otherwise a trailing (3, 3) means a
                rotation matrix.
            hand_pose: None (zero articulation: the flat hand, or the mean pose when
                ``flat_hand_mean=False``), (..., 45) / (..., 15, 3) axis-angle, (..., 15, 3, 3)
                local rotation matrices, or (..., k) PCA coefficients when ``num_pca_comps=k``.
            betas: None (mean shape) or (..., B') shape coefficients, B' ≤ ``num_betas``.
            transl: None or (..., 3) translation in metres, added after posing.
            return_vertices: False skips the mesh (joints-only path: only the 5 fingertips are
                skinned, for ``joints21``).
            vertex_ids: optional (K,) vertex ids returned as ``selected_vertices`` (..., K, 3);
                with ``return_vertices=False`` only those vertices are skinned.
        Returns:
            :class:`HandModelOutput`; the leading dims of all inputs broadcast together.
        """
        if (
            type(hand_pose) is Tensor
            and type(global_orient) is Tensor
            and vertex_ids is None
            and self._parents is MANO_PARENTS
            and hand_pose.dim() == 2
            and hand_pose.shape[0] < self.batch_last_from
        ):
            small = self._forward_small(global_orient, hand_pose, betas, transl, return_vertices)
            if small is not None:
                return small
        other = None
        if betas is not None:
            betas = self._as_input(betas, "betas")
            if betas.ndim == 0 or betas.shape[-1] > self.num_betas:
                raise HandposeError(
                    f"betas must be (..., B) with B ≤ {self.num_betas}, got {tuple(betas.shape)}"
                )
            other = tuple(betas.shape[:-1])
        if transl is not None:
            transl = self._as_input(transl, "transl")
            if transl.shape[-1:] != (3,):
                raise HandposeError(f"transl must be (..., 3), got {tuple(transl.shape)}")
            tb = tuple(transl.shape[:-1])
            other = tb if other is None or other == tb else tuple(_broadcast(other, tb))
        go = None if global_orient is None else self._as_input(global_orient, "global_orient")
        hp = None if hand_pose is None else self._as_input(hand_pose, "hand_pose")
        rot = self._rotations(go, hp, other)

        batch = tuple(rot.shape[:-3])
        if other is not None and other != batch:
            batch = tuple(_broadcast(batch, other))
        n = math.prod(batch)
        if rot.shape[:-3] != (n,):
            rot = rot.expand(batch + (_NJ, 3, 3)).reshape(n, _NJ, 3, 3)
        nb = 0
        if betas is not None:
            nb = betas.shape[-1]
            if betas.shape != (n, nb):
                betas = betas.expand(batch + (nb,)).reshape(n, nb)

        ids = None if vertex_ids is None else self._vertex_ids(vertex_ids)
        if return_vertices:
            arrays = (self.mesh_template, self.mesh_basis, self.mesh_weights)
        elif ids is None and n < self.batch_last_from and self._parents is MANO_PARENTS:
            arrays = (self.head_template_h, self.head_basis_h, self.head_weights)
        elif ids is None:
            arrays = (self.head_template, self.head_basis, self.head_weights)
        else:  # joints-only with extra vertices: skin just those after the head points
            arrays = tuple(
                t.to(self.v_template) for t in self._point_set(ids.cpu(), self.tip_ids.tolist())
            )
        pts, rotations = self._pose_points(rot, betas, nb, *arrays)
        if transl is not None:
            pts = pts + transl.expand(batch + (3,)).reshape(n, 1, 3)

        def unbatch(x: Tensor) -> Tensor:  # (n, ...) → batch + (...)
            # one batch dimension needs no view, which a trace (ONNX) would bake its size into
            return x if len(batch) == 1 else x.view(batch + x.shape[1:])

        vertices = selected = None
        if return_vertices:
            vertices = unbatch(pts[:, _NP:])
            if ids is not None:
                selected = pts[:, _NP + ids]
        elif ids is not None:
            selected = pts[:, _NP:]
        return HandModelOutput(
            vertices=vertices,
            joints=unbatch(pts[:, :_NJ]),
            joints21=unbatch(pts[:, _NJ:_NP]),
            global_rotations=unbatch(rotations),
            selected_vertices=None if selected is None else unbatch(selected),
        )

    def _forward_small(
        self,
        go: Tensor,
        hp: Tensor,
        betas: Tensor | None,
        transl: Tensor | None,
        return_vertices: bool,
    ) -> HandModelOutput | None:
        """The plain call ``(N, 3)`` + ``(N, 45)`` axis-angle [+ ``(N, B)`` betas, ``(N, 3)``
        transl] for a small N, with no input conversion, broadcasting or reshaping: at batch 1
        the Python around the kernels costs as much as the kernels. Returns None when the
        inputs are not exactly that (the general path then handles them); same numbers as the
        general path (tested)."""
        n, k = hp.shape[0], self.num_pca_comps
        dt = self._buffers["mesh_template"].dtype
        if hp.shape[1] != (45 if k is None else k) or hp.dtype is not dt:
            return None
        if go.dtype is not dt or go.shape != (n, 3):
            return None
        nb = 0
        if betas is not None:
            if type(betas) is not Tensor or betas.dtype is not dt or betas.dim() != 2:
                return None
            nb = betas.shape[1]
            if betas.shape[0] != n or nb > self.num_betas:
                return None
        if transl is not None and (
            type(transl) is not Tensor or transl.dtype is not dt or transl.shape != (n, 3)
        ):
            return None
        if n == 1 and self.numpy_inference and self._numpy_ok(go, hp, betas, transl):
            out = self._forward_one_numpy(go, hp, betas, transl, return_vertices)
            if out is not None:
                return out
        b = self._buffers
        if k is not None:
            hp = hp @ b["pca_basis"]
        if not self.flat_hand_mean:
            hp = hp + b["hands_mean"]
        rot = _rodrigues_flat(torch.cat([go, hp], dim=1).view(n * _NJ, 3))  # (n·16, 9)
        if n == 1:
            return self._forward_one(rot, betas, nb, transl, return_vertices)
        if return_vertices:
            arrays = b["mesh_template"], b["mesh_basis"], b["mesh_weights"]
        else:
            arrays = b["head_template_h"], b["head_basis_h"], b["head_weights"]
        pts, rotations = self._pose_points(rot, betas, nb, *arrays)
        if transl is not None:
            pts = pts + transl.unsqueeze(1)
        return HandModelOutput(
            vertices=pts[:, _NP:] if return_vertices else None,
            joints=pts[:, :_NJ],
            joints21=pts[:, _NJ:_NP],
            global_rotations=rotations,
        )

    def _numpy_ok(self, *inputs: Tensor | None) -> bool:
        """Whether one hand may run in NumPy (:mod:`.one_hand`): nothing needs a gradient,
        everything is on the CPU, and nobody records or intercepts the torch operators
        (tracing, ONNX export, torch.compile, dispatch or function modes such as FLOP
        counters)."""
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
            return False
        if inputs[0].device.type != "cpu" or self._buffers["mesh_template"].device.type != "cpu":
            return False
        if _tracing() or torch.compiler.is_compiling():
            return False
        return not (
            torch._C._len_torch_dispatch_stack() or torch._C._is_torch_function_mode_enabled()
        )

    def _forward_one_numpy(
        self,
        go: Tensor,
        hp: Tensor,
        betas: Tensor | None,
        transl: Tensor | None,
        return_vertices: bool,
    ) -> HandModelOutput | None:
        """One hand in NumPy (:func:`.one_hand.forward_one`), the same numbers as
        :meth:`_forward_one`; None when an input has no NumPy view (e.g. a functorch-wrapped
        tensor), and the torch path runs instead."""
        b = self._buffers
        try:
            go_, hp_ = _numpy(go), _numpy(hp)
            betas_ = None if betas is None else _numpy(betas)[0]
            transl_ = None if transl is None else _numpy(transl)
        except RuntimeError:
            return None
        if self.num_pca_comps is not None:
            hp_ = hp_ @ b["pca_basis"].numpy()
        if not self.flat_hand_mean:
            hp_ = hp_ + b["hands_mean"].numpy()
        key = "mesh" if return_vertices else "head"
        template = b[f"{key}_template"]
        stamp = (template.data_ptr(), template.dtype)
        cached = self._one_hand.get(key)
        if cached is None or cached[0] != stamp:
            arrays = one_hand_arrays(
                template,
                b[f"{key}_basis"],
                b[f"{key}_weights_lm"],
                self.num_betas,
                self._has_posedirs,
            )
            cached = self._one_hand[key] = (stamp, arrays)
        aa = np.concatenate([go_, hp_], axis=1).reshape(_NJ, 3)
        pts, rotations = forward_one(aa, betas_, cached[1])
        if transl_ is not None:
            pts += transl_
        pts = pts[None]  # views sliced in NumPy: cheaper than torch slicing
        return HandModelOutput(
            vertices=torch.from_numpy(pts[:, _NP:]) if return_vertices else None,
            joints=torch.from_numpy(pts[:, :_NJ]),
            joints21=torch.from_numpy(pts[:, _NJ:_NP]),
            global_rotations=torch.from_numpy(rotations[None]),
        )

    def _blend(self, rot: Tensor, betas: Tensor | None, nb: int, basis: Tensor):
        """Blend coefficients (n, K) — β, then vec(R_k) of all 16 joints (see _point_set) — and
        the matching rows of ``basis``; coefficients None when there is nothing to blend."""
        if self._has_posedirs:
            n = rot.shape[0] if rot.dim() == 4 else rot.shape[0] // _NJ
            pose = rot.reshape(n, 144)
            coeffs = pose if betas is None else torch.cat([betas, pose], dim=1)
            if betas is None:
                basis = basis[self.num_betas :]
            elif nb < self.num_betas:
                basis = torch.cat([basis[:nb], basis[self.num_betas :]])
            return coeffs, basis
        if betas is not None:
            return betas, basis[:nb]
        return None, basis

    def _forward_one(
        self,
        rot: Tensor,
        betas: Tensor | None,
        nb: int,
        transl: Tensor | None,
        return_vertices: bool,
    ) -> HandModelOutput:
        """One hand (MANO tree): the chain in level-major order (lbs.rigid_transforms_1).
        ``rot``: (16, 9) row-major local rotations, MANO order."""
        b = self._buffers
        if return_vertices:
            template, basis, weights = b["mesh_template"], b["mesh_basis"], b["mesh_weights_lm"]
        else:
            template, basis = b["head_template_h"], b["head_basis_h"]
            weights = b["head_weights_lm"]
        P, d = template.shape
        coeffs, basis = self._blend(rot, betas, nb, basis)
        rest = template if coeffs is None else torch.addmm(template.view(1, P * d), coeffs, basis)
        rest = rest.view(P, d)
        lm = b["level_major"]
        AT = rigid_transforms_1(rot.index_select(0, lm), rest[:_NJ].index_select(0, lm))
        blended = torch.mm(weights, AT.view(_NJ, 12)).view(P, 4, 3)
        if d == 4:
            pts = torch.bmm(rest.view(P, 1, 4), blended)
        else:
            pts = torch.baddbmm(blended[:, 3:], rest.view(P, 1, 3), blended[:, :3])
        pts = pts.view(1, P, 3)
        if transl is not None:
            pts = pts + transl.unsqueeze(1)
        rotations = AT.index_select(0, b["level_major_inv"]).narrow(1, 0, 3).mT.unsqueeze(0)
        return HandModelOutput(
            vertices=pts[:, _NP:] if return_vertices else None,
            joints=pts[:, :_NJ],
            joints21=pts[:, _NJ:_NP],
            global_rotations=rotations,
        )

    def _pose_points(
        self, rot: Tensor, betas: Tensor | None, nb: int, template, basis, weights
    ) -> tuple[Tensor, Tensor]:
        """Blend shapes, kinematic chain and skinning of a point set whose first 16 points are
        the rest joints. ``rot``: (n, 16, 3, 3), or (n·16, 9) on the small-batch MANO path.
        Returns posed points (n, P, 3) and world joint rotations (n, 16, 3, 3)."""
        n = rot.shape[0] if rot.dim() == 4 else rot.shape[0] // _NJ
        P, d = template.shape
        coeffs, basis = self._blend(rot, betas, nb, basis)
        flat = template.view(1, P * d)
        if n < self.batch_last_from:
            if coeffs is None:
                rest = template.expand(n, P, d)
            else:
                rest = torch.addmm(flat, coeffs, basis).view(n, P, d)
            if self._parents is MANO_PARENTS:  # few kernels: what batch 1 costs
                AT = rigid_transforms_t(rot, rest[:, :_NJ])
                return skin_t(rest, weights, AT), AT.narrow(2, 0, 3).mT
            A = rigid_transforms(rot, rest[:, :_NJ], self._parents)
            return skin(rest, weights, A), A[..., :3]

        def rest_batch_last(c: Tensor | None, m: int) -> Tensor:  # (P, 3, m)
            if c is None:
                return template[..., None].expand(P, 3, m)
            # -1, not m: a traced graph (ONNX) must not bake the traced batch size in
            return torch.addmm(flat.view(P * 3, 1), basis.T, c.T).view(P, 3, -1)

        # Batch stored last (lbs.skin_batch_last): one large GEMM for the blended transforms and
        # vectorised per-vertex products; batches above chunk_size go in cache-sized chunks.
        if n <= self.chunk_size or _tracing():  # one pass; a trace must not bake in a loop
            rest_t = rest_batch_last(coeffs, n)
            A = rigid_transforms(rot, rest_t[:_NJ].permute(2, 0, 1), self._parents)
            pts = skin_batch_last(rest_t, weights, A).permute(2, 0, 1).contiguous()
            return pts, A[..., :3]
        if coeffs is None:
            J = template[:_NJ].expand(n, _NJ, 3)
        else:
            J = torch.addmm(flat[:, : _NJ * 3], coeffs, basis[:, : _NJ * 3]).view(n, _NJ, 3)
        A = rigid_transforms(rot, J, self._parents)
        out = []
        for i in range(0, n, self.chunk_size):
            j = min(n, i + self.chunk_size)
            c = None if coeffs is None else coeffs[i:j]
            out.append(skin_batch_last(rest_batch_last(c, j - i), weights, A[i:j]).permute(2, 0, 1))
        return torch.cat(out), A[..., :3]

    def _vertex_ids(self, vertex_ids) -> Tensor:
        ids = torch.as_tensor(vertex_ids, dtype=torch.long, device=self.v_template.device)
        if ids.ndim != 1:
            raise HandposeError(f"vertex_ids must be (K,), got shape {tuple(ids.shape)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_vertices):
            raise HandposeError(f"vertex_ids must lie in [0, {self.num_vertices})")
        return ids

    def shaped_joints(self, betas: Tensor | None = None) -> Tensor:
        """Rest joints J(β), (..., 16, 3) metres; ``J(β)[..., 0, :]`` is the pivot of the
        global rotation (manotorch's ``get_rotation_center``)."""
        if betas is None:
            return self.J_template.clone()
        betas = self._as_input(betas, "betas")
        return shaped_joints(betas, self.J_template, self.J_shapedirs)
