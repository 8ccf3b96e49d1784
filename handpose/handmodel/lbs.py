"""Linear blend skinning for MANO-structured hand models: the functional core of the layer.

The forward model (MANO, Romero et al. 2017, §3; the same as SMPL's Eq. 1–4), with shape
coefficients β, per-joint rotations R₀..R₁₅, template T̄, shape basis S, pose-corrective basis P,
joint regressor 𝒥 and skinning weights W:

1. ``v_shaped = T̄ + S·β``                                     (:func:`blend_shapes`)
2. ``J = 𝒥·v_shaped``                                          (:func:`vertices2joints`)
3. ``v_posed = v_shaped + P·f(R)``, ``f = vec(R_k − I), k = 1..15`` (:func:`pose_features`)
4. ``G_k = G_parent(k)·[R_k | J_k − J_parent(k)]``              (:func:`rigid_transforms`)
5. ``v_i = Σ_k W_ik·G_k·[I | −J_k]·[v_posed,i; 1]``             (:func:`skin`)

Where this file is faster than the textbook version (smplx's ``lbs.py`` follows the textbook):

- The kinematic chain runs by tree level: MANO's tree has depth 3 with 5 chains, so the 15 joint
  transforms are 3 batched matmuls (one per level, 5 fingers each) instead of 15 sequential steps.
- The chain composes *skinning* transforms directly: with ``B_k = [R_k | J_k − R_k·J_k]`` (a
  rotation about the rest joint J_k), ``A_k = A_parent(k)·B_k`` equals ``G_k·[I | −J_k]``, so the
  rest-pose offset is folded into the translation and never applied per vertex.
- Skinning blends 3×4 affine transforms (12 numbers per joint) with one GEMM and applies each
  vertex's blended 3×4 matrix, instead of building and multiplying per-vertex 4×4 matrices.
- Joints need no vertices: MANO regresses joints from ``v_shaped`` (before pose correctives), so
  ``J = 𝒥·T̄ + (𝒥·S)·β`` exactly (:func:`joint_shape_space`, :func:`shaped_joints`): a 16×10
  product instead of a 16×V regression per call.
- Any subset of vertices (fingertips, IMU sensor sites) can be skinned alone by slicing
  ``T̄, S, P, W`` (:func:`lbs`'s building blocks take any V).

Every function takes any number of leading batch dimensions, works in float32 and float64, is
differentiable, and is device-agnostic (CPU or CUDA: it follows its inputs). Units follow the
inputs (handpose models are in metres).

- Small batches (batch 1 costs what its kernel launches cost, ~2 µs each on a CPU):
  :func:`rigid_transforms_t` runs the chain on transposed 4×3 transforms, where the shared root
  transform of the first level is one product with the five stacked finger transforms and the
  local transforms come from two GEMMs against constant maps and one batched multiply-add;
  :func:`skin_t` skins with them. About half the kernels of :func:`rigid_transforms`.
- Large batches: :func:`skin_batch_last` stores the batch innermost, so blending is one large GEMM
  and applying the blended matrices is three fused multiply-adds over contiguous rows; the layer
  runs it on cache-sized chunks.

Naive references (sequential chain, per-vertex 4×4) live in ``tests/handmodel/naive_lbs.py`` and
``benchmarks/bench_handmodel.py``; ``tests/handmodel/test_lbs.py`` checks each block against them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from handpose.handmodel.conventions import MANO_LEVELS, MANO_PARENTS

__all__ = [
    "LbsOutput",
    "batch_rodrigues",
    "blend_shapes",
    "vertices2joints",
    "pose_features",
    "joint_shape_space",
    "shaped_joints",
    "rigid_transforms",
    "posed_joints",
    "rigid_transforms_t",
    "rigid_transforms_1",
    "LEVEL_MAJOR",
    "skin",
    "skin_t",
    "skin_batch_last",
    "lbs",
    "lbs_joints",
]


def _rodrigues_map() -> Tensor:
    """(12, 9) constant C with ``vec(R) = vec(I) + [a·ω_i | h²·ω_i·ω_j]_(i, j) · C``.

    Rodrigues: ``R = I + a[ω]ₓ + b([ω]ₓ)² = I + a[ω]ₓ + b(ωωᵀ − θ²I)`` with ``b = ½h²``; the
    features are the (3, 4) array ``[a·ω_i | h²·ω_i·ω_0, h²·ω_i·ω_1, h²·ω_i·ω_2]`` flattened
    row-major (the ½ of b lives in C).
    """
    C = torch.zeros(12, 9, dtype=torch.float64)
    # a·[ω]ₓ with [ω]ₓ = [[0, −z, y], [z, 0, −x], [−y, x, 0]]; feature 4·c holds a·ω_c.
    for (i, j), (c, sign) in {
        (0, 1): (2, -1.0),
        (0, 2): (1, 1.0),
        (1, 0): (2, 1.0),
        (1, 2): (0, -1.0),
        (2, 0): (1, -1.0),
        (2, 1): (0, 1.0),
    }.items():
        C[4 * c, 3 * i + j] = sign
    # ½h²·(ωωᵀ − θ²I): feature 4·i + 1 + j holds h²·ω_i·ω_j.
    for i in range(3):
        for j in range(3):
            C[4 * i + 1 + j, 3 * i + j] += 0.5
            if i == j:
                for d in range(3):
                    C[4 * d + 1 + d, 3 * i + j] -= 0.5
    return C


def _transposed_chain_maps() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Constants of :func:`rigid_transforms_t` (see there), float64.

    ``vec(R) (9) @ M_R + b_R`` is the row-major 4×4 ``[[Rᵀ, 0], [0, 1]]``; ``J (3) @ M_J + b_J``
    is ``[E | I − E]`` (2 × 16) with ``E`` the 4×4 matrix holding ``Jᵀ`` in its bottom row.
    """
    M_R = torch.zeros(9, 16, dtype=torch.float64)
    for r in range(3):
        for c in range(3):
            M_R[3 * r + c, 4 * c + r] = 1.0
    b_R = torch.zeros(16, dtype=torch.float64)
    b_R[15] = 1.0
    M_J = torch.zeros(3, 32, dtype=torch.float64)
    for c in range(3):
        M_J[c, 12 + c] = 1.0
        M_J[c, 16 + 12 + c] = -1.0
    b_J = torch.cat([torch.zeros(16, dtype=torch.float64), torch.eye(4).flatten().double()])
    return M_R, b_R, M_J, b_J


_CONSTANTS: dict[str, Tensor] = {
    "rodrigues": _rodrigues_map(),
    "eye_flat": torch.eye(3, dtype=torch.float64).flatten(),
    # θ·(1/π, 1/(2π) ×3) → sinc → ^(1, 2 ×3) gives (a, h², h², h²), a = sin θ/θ,
    # h = sin(θ/2)/(θ/2).
    "sinc_scale": torch.tensor([1.0 / math.pi] + [0.5 / math.pi] * 3, dtype=torch.float64),
    "sinc_pow": torch.tensor([1.0, 2.0, 2.0, 2.0], dtype=torch.float64),
    "row": torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=torch.float64),
}
_CONSTANTS.update(
    zip(("rot_to_t", "rot_bias_t", "joint_to_t", "joint_bias_t"), _transposed_chain_maps())
)
# Homogeneous rest joints (x, y, z, 1): the 1 maps to nothing.
_CONSTANTS["joint_to_t_h"] = torch.cat([_CONSTANTS["joint_to_t"], torch.zeros(1, 32).double()])
_constant_cache: dict[tuple[torch.dtype, torch.device], dict[str, Tensor]] = {}


def _constants(like: Tensor) -> dict[str, Tensor]:
    """The module constants in the dtype/device of ``like`` (cached: one lookup, no copies)."""
    key = (like.dtype, like.device)
    c = _constant_cache.get(key)
    if c is None:
        c = _constant_cache[key] = {
            k: v.to(dtype=like.dtype, device=like.device) for k, v in _CONSTANTS.items()
        }
    return c


def _constant(name: str, like: Tensor) -> Tensor:
    """One module constant in the dtype/device of ``like``."""
    return _constants(like)[name]


def batch_rodrigues(axis_angle: Tensor) -> Tensor:
    """Axis-angle → rotation matrix, ``R = I + a·[ω]ₓ + b·(ωωᵀ − θ²I)``.

    ``a = sin θ/θ = sinc(θ/π)`` and ``b = (1 − cos θ)/θ² = ½·sinc(θ/2π)²`` are exact and smooth
    at θ = 0, so there is no small-angle branch and no ``|ω| + 1e-8`` hack (which breaks
    orthonormality). The same values as :func:`handpose.geometry.rotations.axis_angle_to_matrix`
    (tested to 1e-12) with few kernels, which is what matters at batch 1: ``c = (a, h², h², h²)``
    (one ``sinc`` and one ``pow``, ``h = sinc(θ/2π)``) times ``(1, ω)`` gives ``[a | h²ω]``, and
    the 12 products ``ω_i·[a | h²ω]_j`` map to vec(R) through one constant (12, 9) matrix.

    Args:
        axis_angle: (..., 3) rotation vectors, radians.
    Returns:
        (..., 3, 3) rotation matrices (act on column vectors).

    Example:
        >>> R = batch_rodrigues(torch.tensor([0.0, 0.0, math.pi / 2]))
        >>> (R @ torch.tensor([1.0, 0.0, 0.0])).round(decimals=6)
        tensor([0., 1., 0.])
    """
    return _rodrigues_flat(axis_angle.reshape(-1, 3)).view(axis_angle.shape[:-1] + (3, 3))


def _rodrigues_flat(w: Tensor) -> Tensor:
    """:func:`batch_rodrigues` of (M, 3) rotation vectors → (M, 9) row-major matrices."""
    k = _constants(w)
    # The gradient of θ at ω = 0 is taken as 0 (torch's norm backward); a and b are even in θ,
    # so dR/dω there is still exact ([e_i]ₓ, checked by gradcheck).
    theta = torch.linalg.vector_norm(w, dim=-1, keepdim=True)  # (M, 1)
    s = torch.sinc(theta * k["sinc_scale"])  # (M, 4): (a, h, h, h)
    if w.shape[0] <= 4096:  # one kernel (what small batches need) ...
        c = s.pow(k["sinc_pow"])
    else:  # ... but a tensor-exponent pow is slow per element: (a, h, h, h)·(1, h, h, h)
        c = s * torch.constant_pad_nd(s[:, 1:], (1, 0), 1.0)
    q = c * torch.constant_pad_nd(w, (1, 0), 1.0)  # (M, 4): (a, h²·ω); = F.pad, less Python
    feats = (w.unsqueeze(-1) * q.unsqueeze(-2)).view(-1, 12)
    return torch.addmm(k["eye_flat"], feats, k["rodrigues"])


def blend_shapes(betas: Tensor, shapedirs: Tensor) -> Tensor:
    """Shape displacement ``S·β``.

    Args:
        betas: (..., B) shape coefficients; B may be smaller than the basis size (the first B
            directions are used).
        shapedirs: (V, 3, B_model) shape basis in MANO layout.
    Returns:
        (..., V, 3) vertex displacements (units of ``shapedirs``, metres for handpose models).
    """
    nb = betas.shape[-1]
    V = shapedirs.shape[0]
    basis = shapedirs[..., :nb].reshape(V * 3, nb)
    return (betas @ basis.transpose(0, 1)).unflatten(-1, (V, 3))


def vertices2joints(J_regressor: Tensor, vertices: Tensor) -> Tensor:
    """Regress joints from vertices, ``J = 𝒥·v``.

    Args:
        J_regressor: (J, V) dense regressor (MANO: 16 × 778, rows sum to 1).
        vertices: (..., V, 3)
    Returns:
        (..., J, 3)
    """
    return J_regressor @ vertices


def pose_features(rot_mats: Tensor) -> Tensor:
    """Pose-corrective features ``f = vec(R_k − I)`` for the 15 non-root joints (MANO's
    ``lrotmin`` map: each (R_k − I) flattened row-major, joints 1..15 in MANO order).

    Args:
        rot_mats: (..., 16, 3, 3) local joint rotations, root first.
    Returns:
        (..., 135) with entry ``9·(k − 1) + 3·i + j = (R_k − I)_ij``.
    """
    eye = torch.eye(3, dtype=rot_mats.dtype, device=rot_mats.device)
    return (rot_mats[..., 1:, :, :] - eye).flatten(-3)


def joint_shape_space(
    J_regressor: Tensor, v_template: Tensor, shapedirs: Tensor
) -> tuple[Tensor, Tensor]:
    """Precompute the joint template and joint shape directions, ``𝒥·T̄`` and ``𝒥·S``.

    Exact, not an approximation: MANO regresses the joints from ``v_shaped`` (before pose
    correctives), and the regression is linear, so ``𝒥·(T̄ + S·β) = 𝒥·T̄ + (𝒥·S)·β``.

    Args:
        J_regressor: (J, V)
        v_template: (V, 3)
        shapedirs: (V, 3, B)
    Returns:
        ``(J_template (J, 3), J_shapedirs (J, 3, B))``.
    """
    J_template = J_regressor @ v_template
    J_shapedirs = torch.einsum("jv,vcb->jcb", J_regressor, shapedirs)
    return J_template, J_shapedirs


def shaped_joints(betas: Tensor, J_template: Tensor, J_shapedirs: Tensor) -> Tensor:
    """Rest joints of a shaped hand, ``J(β) = 𝒥·T̄ + (𝒥·S)·β`` (see :func:`joint_shape_space`).

    Args:
        betas: (..., B)
        J_template: (J, 3)
        J_shapedirs: (J, 3, B_model)
    Returns:
        (..., J, 3)
    """
    return J_template + blend_shapes(betas, J_shapedirs)


def _is_mano_tree(parents: Sequence[int] | Tensor) -> bool:
    if isinstance(parents, tuple):
        return parents == MANO_PARENTS
    if isinstance(parents, Tensor):
        parents = parents.tolist()
    return tuple(int(p) for p in parents) == MANO_PARENTS


# MANO joints are numbered finger-major (1 + 3·finger + level), so joints 1..15 unflatten to
# (finger, level) and the parents of level ℓ are level ℓ − 1 of the same finger (MANO_LEVELS).
assert all(lvl == tuple(range(i + 1, 16, 3)) for i, lvl in enumerate(MANO_LEVELS))


def _local_skinning_transforms(rot_mats: Tensor, joints: Tensor) -> Tensor:
    """``B_k = [R_k | J_k − R_k·J_k; 0 0 0 1]`` (rotation about the rest joint), (..., J, 4, 4)."""
    t = joints - (rot_mats * joints[..., None, :]).sum(-1)
    top = torch.cat([rot_mats, t[..., None]], dim=-1)
    row = _constant("row", top)
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        # a trace must not bake the batch size in: pad with a zero row, then add e₄ e₄ᵀ
        corner = torch.nn.functional.pad(row, (0, 0, 3, 0))  # (4, 4), 1 at [3, 3]
        return torch.nn.functional.pad(top, (0, 0, 0, 1)) + corner
    return torch.cat([top, row.expand(top.shape[:-2] + (1, 4))], dim=-2)


def rigid_transforms(
    rot_mats: Tensor, joints: Tensor, parents: Sequence[int] | Tensor = MANO_PARENTS
) -> Tensor:
    """World skinning transforms ``A_k = G_k·[I | −J_k]`` of the kinematic chain (3×4 affine).

    ``G_k = G_parent(k)·[R_k | J_k − J_parent(k)]`` is the world transform of joint frame k
    (``G_0 = [R_0 | J_0]``, so the global rotation pivots about the rest root joint J₀, MANO's
    convention). Instead of G, this returns ``A_k = G_k·[I | −J_k]``, which maps a rest-pose
    point straight to its posed position under joint k; ``A_k`` has the same rotation as
    ``G_k`` and the posed joint is ``A_k·[J_k; 1]`` (:func:`posed_joints`). The chain composes
    ``A_k = A_parent(k)·B_k`` with ``B_k = [R_k | J_k − R_k·J_k]`` (a rotation about J_k).

    For MANO's tree (the default ``parents``) the chain runs level by level: the root, then three
    batched steps over the five fingers. Any other tree falls back to a sequential loop.

    Args:
        rot_mats: (..., J, 3, 3) local joint rotations (root = global orientation).
        joints: (..., J, 3) rest joints of the shaped hand.
        parents: (J,) parent index of each joint, root −1, parents before children.
    Returns:
        (..., J, 3, 4) affine skinning transforms ``[R | t]`` (the bottom row is 0 0 0 1).
    """
    B = _local_skinning_transforms(rot_mats, joints)
    if _is_mano_tree(parents):
        A0 = B[..., 0:1, :3, :]  # (..., 1, 3, 4): broadcasts over the five fingers
        fingers = B[..., 1:, :, :].unflatten(-3, (5, 3))  # (..., finger, level, 4, 4)
        A1 = A0 @ fingers[..., 0, :, :]
        A2 = A1 @ fingers[..., 1, :, :]
        A3 = A2 @ fingers[..., 2, :, :]
        chains = torch.stack([A1, A2, A3], dim=-3).flatten(-4, -3)  # (..., 15, 3, 4) MANO order
        return torch.cat([A0, chains], dim=-3)
    parents = [int(p) for p in (parents.tolist() if isinstance(parents, Tensor) else parents)]
    out: list[Tensor] = []
    for k, p in enumerate(parents):
        if p < 0:
            out.append(B[..., k, :3, :])
        else:
            if p >= k:
                raise ValueError("parents must list every parent before its children")
            out.append(out[p] @ B[..., k, :, :])
    return torch.stack(out, dim=-3)


def posed_joints(transforms: Tensor, joints: Tensor) -> Tensor:
    """Posed joint positions ``A_k·[J_k; 1]`` from skinning transforms.

    Args:
        transforms: (..., J, 3, 4) from :func:`rigid_transforms` (or (..., J, 4, 4)).
        joints: (..., J, 3) rest joints.
    Returns:
        (..., J, 3)
    """
    return (transforms[..., :3, :3] @ joints[..., None])[..., 0] + transforms[..., :3, 3]


def rigid_transforms_t(rot_mats: Tensor, joints: Tensor) -> Tensor:
    """:func:`rigid_transforms` for MANO's tree in few kernels, transposed: ``A_kᵀ`` (4 × 3).

    The layout for small batches, where every kernel launch counts. Rows of ``A_kᵀ``: the three
    columns of the world rotation, then the translation (``A_k = [R | t]`` is ``A_kᵀ`` read
    column-wise). Transposing turns ``A_k = A_parent·B_k`` into ``A_kᵀ = B_kᵀ·A_parentᵀ``, so
    the first level, where the root transform is shared by the five fingers, is one product of
    the five stacked ``B_kᵀ`` (20 × 4) with ``A_0ᵀ`` (4 × 3), and the next two levels are one
    batched product each. ``A`` never needs its bottom row (0 0 0 1): ``(Bᵀ·Aᵀ)`` keeps only
    the three columns of ``Aᵀ`` that matter.

    ``B_kᵀ = (I − E_k)·[[R_kᵀ, 0], [0, 1]] + E_k`` (``E_k`` holds ``J_kᵀ`` in its bottom row)
    is ``[[R_kᵀ, 0], [(J_k − R_k·J_k)ᵀ, 1]]``: one batched multiply-add, with both factors
    written by a GEMM against a constant map (no concatenation).

    Args:
        rot_mats: (N, 16, 3, 3) local rotations in MANO order (root first), or the same as
            (N·16, 9) row-major.
        joints: (N, 16, 3) rest joints of the shaped hand (any strides), or (N, 16, 4)
            homogeneous ``(x, y, z, 1)``.
    Returns:
        (N, 16, 4, 3) transposed skinning transforms ``A_kᵀ`` in MANO order; the world rotation
        of joint k is ``out[:, k, :3].mT``, its skinning translation ``out[:, k, 3]``.
    """
    n, d = joints.shape[0], joints.shape[-1]
    k = _constants(rot_mats)
    R = rot_mats if rot_mats.dim() == 2 else rot_mats.reshape(n * 16, 9)
    Rh = torch.addmm(k["rot_bias_t"], R, k["rot_to_t"])
    J = joints.reshape(n * 16, d)
    E = torch.addmm(k["joint_bias_t"], J, k["joint_to_t" if d == 3 else "joint_to_t_h"])
    E = E.view(n * 16, 2, 4, 4)
    BT = torch.baddbmm(E.select(1, 0), E.select(1, 1), Rh.view(n * 16, 4, 4)).view(n, 16, 4, 4)
    A0 = BT.select(1, 0).narrow(-1, 0, 3)  # (N, 4, 3)
    fingers = BT.narrow(1, 1, 15).view(n, 5, 3, 4, 4)  # (N, finger, level, 4, 4)
    A1 = torch.bmm(fingers.select(2, 0).reshape(n, 20, 4), A0).view(n * 5, 4, 3)
    A2 = torch.bmm(fingers.select(2, 1).reshape(n * 5, 4, 4), A1)
    A3 = torch.bmm(fingers.select(2, 2).reshape(n * 5, 4, 4), A2)
    chains = torch.stack([A1, A2, A3], dim=1).view(n, 15, 4, 3)  # back to MANO order
    return torch.cat([A0.unsqueeze(1), chains], dim=1)


# MANO's joints by tree level: the root, then level 1 of the five fingers, then level 2, then 3.
LEVEL_MAJOR = (0, *(j for level in MANO_LEVELS for j in level))


def rigid_transforms_1(rot_mats: Tensor, joints: Tensor) -> Tensor:
    """:func:`rigid_transforms_t` for *one* hand, with the joints in :data:`LEVEL_MAJOR` order.

    The batch-1 layout: with the joints of a level stored next to each other, every level is
    a contiguous block, so the chain needs no copy to gather a level and no stack to put the
    levels back (one ``cat``): level 1 is one (20 × 4)·(4 × 3) product with the root, levels 2
    and 3 one batched product each.

    Args:
        rot_mats: (16, 9) row-major local rotations, :data:`LEVEL_MAJOR` order.
        joints: (16, 3) rest joints of the shaped hand, or (16, 4) homogeneous, same order.
    Returns:
        (16, 4, 3) transposed skinning transforms ``A_kᵀ`` in :data:`LEVEL_MAJOR` order.
    """
    k = _constants(rot_mats)
    Rh = torch.addmm(k["rot_bias_t"], rot_mats, k["rot_to_t"]).view(16, 4, 4)
    jmap = k["joint_to_t" if joints.shape[-1] == 3 else "joint_to_t_h"]
    E = torch.addmm(k["joint_bias_t"], joints, jmap).view(16, 2, 4, 4)
    BT = torch.baddbmm(E[:, 0], E[:, 1], Rh)  # B_kᵀ
    A0 = BT[0, :, :3]
    A1 = torch.mm(BT[1:6].view(20, 4), A0).view(5, 4, 3)
    A2 = torch.bmm(BT[6:11], A1)
    return torch.cat([A0.unsqueeze(0), A1, A2, torch.bmm(BT[11:16], A2)])


def skin_t(points: Tensor, weights: Tensor, transforms_t: Tensor) -> Tensor:
    """:func:`skin` with transposed transforms from :func:`rigid_transforms_t`.

    Blends the 12 numbers of each ``A_kᵀ`` with one GEMM and applies each point's blended
    matrix as the row vector ``[v | 1]·Aᵀ`` (one batched multiply-add, or one batched product
    for homogeneous points, which saves two slicing kernels).

    Args:
        points: (N, P, 3) rest points, or (N, P, 4) homogeneous ``(x, y, z, 1)``.
        weights: (P, 16) skinning weights.
        transforms_t: (N, 16, 4, 3)
    Returns:
        (N, P, 3) skinned points.
    """
    n, P = transforms_t.shape[0], weights.shape[0]
    if n == 1:
        blended = torch.mm(weights, transforms_t.view(16, 12)).view(P, 4, 3)
    else:
        blended = (weights @ transforms_t.view(n, 16, 12)).view(n * P, 4, 3)
    if points.shape[-1] == 4:
        return torch.bmm(points.reshape(n * P, 1, 4), blended).view(n, P, 3)
    out = torch.baddbmm(blended[:, 3:], points.reshape(n * P, 1, 3), blended[:, :3])
    return out.view(n, P, 3)


def skin(vertices: Tensor, weights: Tensor, transforms: Tensor) -> Tensor:
    """Linear blend skinning ``v'_i = (Σ_k W_ik·A_k)·[v_i; 1]`` without per-vertex 4×4 matrices.

    The 3×4 affine parts of the joint transforms are blended with one GEMM (12 numbers per
    vertex) and each vertex's blended 3×4 matrix is applied with one batched multiply-add.

    Args:
        vertices: (..., V, 3) rest-pose vertices with blend shapes applied (``v_posed``).
        weights: (V, J) skinning weights (rows sum to 1).
        transforms: (..., J, 3, 4) or (..., J, 4, 4) skinning transforms (:func:`rigid_transforms`).
    Returns:
        (..., V, 3) skinned vertices.
    """
    vb, tb = vertices.shape[:-2], transforms.shape[:-3]
    batch = vb if vb == tb else torch.broadcast_shapes(vb, tb)
    V, nj = weights.shape
    if transforms.shape[-2] == 4:
        transforms = transforms[..., :3, :]
    A = transforms.reshape(tb + (nj, 12))
    if tb != batch:
        A = A.expand(batch + (nj, 12))
    blended = (torch.mm(weights, A[0]) if A.shape[:-2] == (1,) else weights @ A).view(-1, 3, 4)
    if vb != batch:
        vertices = vertices.expand(batch + (V, 3))
    out = torch.baddbmm(blended[:, :, 3:], blended[:, :, :3], vertices.reshape(-1, 3, 1))
    return out.view(batch + (V, 3))


def skin_batch_last(vertices: Tensor, weights: Tensor, transforms: Tensor) -> Tensor:
    """:func:`skin` for a batch stored last: the layout that is fastest for large batches.

    With the batch as the innermost (contiguous) dimension, blending is one large GEMM
    ``W (V, J) @ A (J, 12·N)`` and applying the blended 3×4 matrices is three fused
    multiply-adds over contiguous rows, instead of millions of tiny 3×3 products.

    Args:
        vertices: (V, 3, N) rest-pose vertices with blend shapes applied.
        weights: (V, J) skinning weights.
        transforms: (N, J, 3, 4) skinning transforms (:func:`rigid_transforms`).
    Returns:
        (V, 3, N) skinned vertices.
    """
    V, nj = weights.shape
    n = transforms.shape[0]
    A = transforms.permute(1, 2, 3, 0).reshape(nj, 12 * n)
    blended = (weights @ A).view(V, 3, 4, n)
    out = torch.addcmul(blended[:, :, 3], blended[:, :, 0], vertices[:, 0:1])
    out = torch.addcmul(out, blended[:, :, 1], vertices[:, 1:2])
    return torch.addcmul(out, blended[:, :, 2], vertices[:, 2:3])


@dataclass
class LbsOutput:
    """Result of :func:`lbs` / :func:`lbs_joints` (units of the model, metres for handpose).

    Attributes:
        vertices: (..., V, 3) skinned vertices, or None for :func:`lbs_joints`.
        joints: (..., J, 3) posed joints.
        transforms: (..., J, 3, 4) skinning transforms ``A_k``; the rotation block is the world
            rotation of joint frame k.
    """

    vertices: Tensor | None
    joints: Tensor
    transforms: Tensor


def lbs(
    betas: Tensor,
    rot_mats: Tensor,
    v_template: Tensor,
    shapedirs: Tensor,
    posedirs: Tensor,
    J_regressor: Tensor,
    weights: Tensor,
    parents: Sequence[int] | Tensor = MANO_PARENTS,
) -> LbsOutput:
    """The full MANO forward model from the raw MANO arrays (no translation).

    This is the readable composition of the building blocks; :class:`handpose.handmodel.HandModel`
    runs the same steps with precomputed, fused bases.

    Args:
        betas: (..., B) shape coefficients.
        rot_mats: (..., J, 3, 3) local rotations, root (global orientation) first.
        v_template: (V, 3) rest template.
        shapedirs: (V, 3, B_model) shape basis.
        posedirs: (V, 3, 9·(J − 1)) pose-corrective basis (MANO layout).
        J_regressor: (J, V) dense joint regressor.
        weights: (V, J) skinning weights.
        parents: (J,) kinematic tree.
    Returns:
        :class:`LbsOutput` with vertices (..., V, 3), joints (..., J, 3), transforms (..., J, 3, 4).
    """
    batch = torch.broadcast_shapes(betas.shape[:-1], rot_mats.shape[:-3])
    v_shaped = v_template + blend_shapes(betas, shapedirs)
    J = vertices2joints(J_regressor, v_shaped)
    V = v_template.shape[0]
    pose_basis = posedirs.reshape(V * 3, -1).transpose(0, 1)
    v_posed = v_shaped + (pose_features(rot_mats) @ pose_basis).unflatten(-1, (V, 3))
    A = rigid_transforms(rot_mats, J, parents)
    verts = skin(v_posed, weights, A)
    joints = posed_joints(A, J)
    return LbsOutput(
        vertices=verts.expand(batch + verts.shape[-2:]),
        joints=joints.expand(batch + joints.shape[-2:]),
        transforms=A.expand(batch + A.shape[-3:]),
    )


def lbs_joints(
    betas: Tensor,
    rot_mats: Tensor,
    J_template: Tensor,
    J_shapedirs: Tensor,
    parents: Sequence[int] | Tensor = MANO_PARENTS,
) -> LbsOutput:
    """Joints-only forward model: no vertices, no pose correctives (they do not move joints).

    Args:
        betas: (..., B)
        rot_mats: (..., J, 3, 3) local rotations, root first.
        J_template: (J, 3) and J_shapedirs: (J, 3, B_model) from :func:`joint_shape_space`.
        parents: (J,) kinematic tree.
    Returns:
        :class:`LbsOutput` with ``vertices=None``, joints (..., J, 3), transforms (..., J, 3, 4).
    """
    J = shaped_joints(betas, J_template, J_shapedirs)
    A = rigid_transforms(rot_mats, J, parents)
    joints = posed_joints(A, J)
    batch = torch.broadcast_shapes(betas.shape[:-1], rot_mats.shape[:-3])
    return LbsOutput(
        vertices=None,
        joints=joints.expand(batch + joints.shape[-2:]),
        transforms=A.expand(batch + A.shape[-3:]),
    )
