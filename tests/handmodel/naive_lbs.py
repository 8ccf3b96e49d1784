"""A naive, obviously-correct MANO forward model to check the fast one against.

Straight from the equations (MANO §3 / SMPL Eq. 1–4, ../shared/reference/mano.md §6), written
the slow way on purpose: joints regressed from the shaped vertices, a sequential loop over the
15 joints with 4×4 homogeneous matrices, and one 4×4 skinning matrix built per vertex. Rotations
come from ``handpose.geometry.rotations`` (an implementation independent of ``lbs.py``).
"""

from __future__ import annotations

import torch

from handpose.geometry.rotations import axis_angle_to_matrix


def homogeneous(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3), (..., 3) → (..., 4, 4)."""
    T = torch.zeros(R.shape[:-2] + (4, 4), dtype=R.dtype)
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def naive_lbs(data, global_orient, hand_pose, betas, transl=None, flat_hand_mean=True):
    """One hand (no batch), float64 torch tensors; ``hand_pose`` is (45,) axis-angle.

    Returns (vertices (V, 3), joints (16, 3), global rotations (16, 3, 3)).
    """
    f64 = torch.float64
    T = torch.as_tensor(data.v_template, dtype=f64)
    S = torch.as_tensor(data.shapedirs, dtype=f64)
    P = torch.as_tensor(data.posedirs, dtype=f64)
    Jr = torch.as_tensor(data.J_regressor, dtype=f64)
    W = torch.as_tensor(data.weights, dtype=f64)
    parents = list(data.parents)
    if not flat_hand_mean:
        hand_pose = hand_pose + torch.as_tensor(data.hands_mean, dtype=f64)

    v_shaped = T.clone()
    for c in range(betas.shape[0]):
        v_shaped = v_shaped + S[:, :, c] * betas[c]
    J = Jr @ v_shaped  # regressed from the shaped mesh, before pose correctives

    pose = torch.cat([global_orient, hand_pose]).reshape(16, 3)
    R = torch.stack([axis_angle_to_matrix(pose[k]) for k in range(16)])
    feats = []
    for k in range(1, 16):
        feats.append((R[k] - torch.eye(3, dtype=f64)).reshape(9))
    feats = torch.cat(feats)
    v_posed = v_shaped + torch.einsum("vcf,f->vc", P, feats)

    G = [None] * 16
    for k in range(16):
        if parents[k] < 0:
            G[k] = homogeneous(R[k], J[k])
        else:
            G[k] = G[parents[k]] @ homogeneous(R[k], J[k] - J[parents[k]])
    G = torch.stack(G)
    joints = G[:, :3, 3]
    # Remove the rest pose: A_k = G_k · T(−J_k).
    A = torch.stack([G[k] @ homogeneous(torch.eye(3, dtype=f64), -J[k]) for k in range(16)])
    verts = []
    for i in range(v_posed.shape[0]):
        M = torch.zeros(4, 4, dtype=f64)
        for k in range(16):
            M = M + W[i, k] * A[k]
        verts.append((M @ torch.cat([v_posed[i], torch.ones(1, dtype=f64)]))[:3])
    verts = torch.stack(verts)
    if transl is not None:
        verts = verts + transl
        joints = joints + transl
    return verts, joints, G[:, :3, :3]
