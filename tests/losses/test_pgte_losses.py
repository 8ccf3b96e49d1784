"""PGTE's loss terms: zero at the ground truth, mesh helpers hand-computed."""

import math

import torch

from handpose.geometry.camera import project
from handpose.losses.pgte import (
    PGTELossConfig,
    edge_length_loss,
    face_subset,
    mesh_edges,
    normal_loss,
    pgte_loss,
)
from handpose.models.heads import image_to_heatmap
from handpose.models.pgte import PGTEOutput


def test_mesh_edges_two_triangles():
    faces = torch.tensor([[0, 1, 2], [2, 1, 3]])
    assert mesh_edges(faces).tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]


def test_face_subset_reindexes():
    faces = torch.tensor([[0, 1, 2], [2, 1, 3], [4, 5, 6], [7, 8, 9]])
    ids, local = face_subset(faces, 2, torch.Generator().manual_seed(3))
    assert local.shape == (2, 3)
    picked = ids[local]
    assert all(any(torch.equal(p, f) for f in faces) for p in picked)
    assert torch.equal(ids, torch.unique(ids))


def test_normal_loss_hand_computed():
    gt = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])  # normal +z
    pred = gt.clone()
    pred[0, 1, 2] = 1.0  # edge 0→1 tilted 45° out of the plane; 1→2 too
    faces = torch.tensor([[0, 1, 2]])
    valid = torch.tensor([True])
    # |cos| per edge: 0→1 (1, 0, 1)/√2 → 1/√2; 1→2 (−1, 1, −1)/√3 → 1/√3; 2→0 (0, −1, 0) → 0
    expect = (1 / math.sqrt(2) + 1 / math.sqrt(3)) / 3
    assert math.isclose(float(normal_loss(pred, gt, faces, valid)), expect, rel_tol=1e-6)
    assert float(normal_loss(gt, gt, faces, valid)) == 0.0


def test_edge_loss_hand_computed():
    gt = torch.tensor([[[0.0, 0, 0], [1, 0, 0]]])
    pred = torch.tensor([[[0.0, 0, 0], [3, 0, 0]]])
    edges = torch.tensor([[0, 1]])
    assert float(edge_length_loss(pred, gt, edges, torch.tensor([True]))) == 2.0
    # invalid meshes do not count
    assert float(edge_length_loss(pred, gt, edges, torch.tensor([False]))) == 0.0


def _perfect_output(gj, gv, K, stride):
    wz = gj[:, :1, 2]
    vxy = image_to_heatmap(project(gv, K), stride)
    jxy = image_to_heatmap(project(gj, K), stride)
    jz = gj[..., 2] - wz
    return PGTEOutput(
        vertices=gv, joints3d=gj, joints2d=project(gj, K), vertices2d=project(gv, K),
        vertex_xy=vxy, vertex_z=gv[..., 2] - wz, joint_xy_init=jxy, joint_z_init=jz,
        joint_xy=jxy, joint_z=jz, coarse_xy=vxy, coarse_z=gv[..., 2] - wz, root_depth=wz[:, 0],
    )  # fmt: skip


def test_zero_at_ground_truth_and_positive_elsewhere():
    g = torch.Generator().manual_seed(0)
    N = 3
    gv = torch.randn(N, 30, 3, generator=g) * 0.03 + torch.tensor([0.0, 0.0, 0.5])
    gj = torch.randn(N, 21, 3, generator=g) * 0.03 + torch.tensor([0.0, 0.0, 0.5])
    K = torch.tensor([[200.0, 0, 31.5], [0, 200, 31.5], [0, 0, 1]]).expand(N, 3, 3)
    faces = torch.randint(0, 30, (20, 3), generator=g)
    faces = faces[
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    ]
    tg = {"joints3d": gj, "vertices": gv, "K": K, "valid": torch.ones(N, dtype=torch.bool),
          "joint_valid": torch.ones(N, 21, dtype=torch.bool)}  # fmt: skip
    kw = dict(stride=4.0, heatmap_size=(16, 16), half_range=0.15, faces=faces, frames=N)
    cfg = PGTELossConfig(velocity=1.0)
    terms = pgte_loss(_perfect_output(gj, gv, K, 4.0), tg, cfg, **kw)
    assert float(terms["loss"]) < 1e-5, {k: float(v) for k, v in terms.items()}
    bad = _perfect_output(gj, gv + 0.01, K, 4.0)
    bad.vertices = bad.vertices + 0.01 * torch.randn(gv.shape, generator=g)
    terms = pgte_loss(bad, tg, cfg, **kw)
    assert float(terms["vertices3d"]) > 0 and float(terms["edge"]) > 0
