"""Root depth from a bone, translation from 2D–3D correspondences, and the weak-perspective
crop camera ↔ full-perspective translation (HaMeR's cam_crop_to_full for any K)."""

import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry import (
    cam_crop_to_full,
    cam_full_to_crop,
    crop_to_image,
    image_to_crop,
    project,
    root_depth_from_bone,
    solve_translation,
    weak_perspective_project,
    xyz_to_uvz,
)

D64 = torch.float64
K = torch.tensor([[600.0, 0.0, 300.0], [0.0, 600.0, 250.0], [0.0, 0.0, 1.0]], dtype=D64)


def _hands(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    local = torch.randn(n, 21, 3, generator=g, dtype=D64) * 0.04
    transl = torch.stack(
        [
            torch.rand(n, generator=g, dtype=D64) * 0.2 - 0.1,
            torch.rand(n, generator=g, dtype=D64) * 0.2 - 0.1,
            torch.rand(n, generator=g, dtype=D64) + 0.4,
        ],
        -1,
    )
    return local, transl


def test_root_depth_from_bone_recovers_the_root():
    local, transl = _hands()
    xyz = local + transl[:, None]
    uvz = xyz_to_uvz(xyz, K)
    length = (xyz[:, 0] - xyz[:, 9]).norm(dim=-1)
    z = root_depth_from_bone(uvz.uv, uvz.z_rel, K, length)
    torch.testing.assert_close(z, uvz.z_root, atol=1e-12, rtol=0)
    # another bone, a float length, batch of K
    L = float((xyz[0, 5] - xyz[0, 6]).norm())
    z5 = root_depth_from_bone(uvz.uv[:1], uvz.z_rel[:1], K.expand(1, 3, 3), L, bone=(5, 6))
    torch.testing.assert_close(z5, uvz.z_root[:1], atol=1e-12, rtol=0)


def test_root_depth_without_exact_solution_gives_the_closest_length():
    # two joints 10 cm apart along x, 10 cm apart in depth: whatever the root depth, their
    # distance stays above 1 cm, so asking for 1 cm returns the depth where it is smallest
    xyz = torch.tensor([[[0.0, 0.0, 0.5], [0.1, 0.0, 0.6]]], dtype=D64)
    uvz = xyz_to_uvz(xyz, K)
    z = root_depth_from_bone(uvz.uv, uvz.z_rel, K, 0.01, bone=(0, 1))
    rays = torch.cat([uvz.uv, torch.ones(1, 2, 1, dtype=D64)], -1) @ torch.linalg.inv(K).mT

    def length(zr):
        return ((zr + uvz.z_rel[0, 0]) * rays[0, 0] - (zr + uvz.z_rel[0, 1]) * rays[0, 1]).norm()

    grid = torch.linspace(-1.0, 2.0, 3001, dtype=D64)
    best = grid[torch.stack([length(g) for g in grid]).argmin()]
    assert abs(float(z[0] - best)) < 2e-3
    assert torch.isfinite(z).all()


def test_root_depth_gradients_and_errors():
    local, transl = _hands(2, seed=1)
    uvz = xyz_to_uvz(local + transl[:, None], K)
    uv = uvz.uv.clone().requires_grad_(True)
    zr = uvz.z_rel.clone().requires_grad_(True)
    L = torch.tensor([0.09, 0.1], dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: root_depth_from_bone(a, b, K, c), (uv, zr, L))
    with pytest.raises(HandposeError, match="bone"):
        root_depth_from_bone(uvz.uv, uvz.z_rel, K, 0.1, bone=(3, 3))


def test_solve_translation_exact_and_weighted():
    local, transl = _hands(5, seed=2)
    uv = project(local + transl[:, None], K)
    torch.testing.assert_close(solve_translation(local, uv, K), transl, atol=1e-12, rtol=0)
    # a skewed K, single hand
    Ks = K.clone()
    Ks[0, 1] = 12.0
    uv_s = project(local[0] + transl[0], Ks)
    torch.testing.assert_close(solve_translation(local[0], uv_s, Ks), transl[0], atol=1e-12, rtol=0)
    # an outlier with weight 0 does not move the answer
    bad = uv.clone()
    bad[:, 3] += 80.0
    w = torch.ones(5, 21, dtype=D64)
    w[:, 3] = 0
    torch.testing.assert_close(solve_translation(local, bad, K, w), transl, atol=1e-12, rtol=0)
    assert (solve_translation(local, bad, K) - transl).abs().max() > 1e-3


def test_weak_perspective_pinned():
    # s = 10/m, t = (0.01, −0.02) m: X = (0.05, 0.03) → p = 10·(0.06, 0.01) = (0.6, 0.1)
    p = weak_perspective_project(
        torch.tensor([[0.05, 0.03, 0.2]]), torch.tensor([10.0, 0.01, -0.02])
    )
    torch.testing.assert_close(p, torch.tensor([[0.6, 0.1]]))
    # box centred at (100, 50), 200 px: p = ±1 are its edges
    c, b = torch.tensor([100.0, 50.0]), torch.tensor(200.0)
    uv = crop_to_image(torch.tensor([[-1.0, 1.0], [0.6, 0.1]]), c, b)
    torch.testing.assert_close(uv, torch.tensor([[0.0, 150.0], [160.0, 60.0]]))
    torch.testing.assert_close(image_to_crop(uv, c, b), torch.tensor([[-1.0, 1.0], [0.6, 0.1]]))


def hamer_cam_crop_to_full(cam, box_center, box_size, img_w, img_h, focal):
    """HaMeR's formula (principal point at the image centre), written from its definition."""
    s, tx, ty = cam.unbind(-1)
    bs = box_size * s
    return torch.stack(
        [
            2 * (box_center[..., 0] - img_w / 2) / bs + tx,
            2 * (box_center[..., 1] - img_h / 2) / bs + ty,
            2 * focal / bs,
        ],
        -1,
    )


def _crop_case():
    cam = torch.tensor([[8.0, 0.01, -0.03], [6.5, -0.02, 0.0]], dtype=D64)
    centre = torch.tensor([[420.0, 180.0], [150.0, 330.0]], dtype=D64)
    size = torch.tensor([160.0, 220.0], dtype=D64)
    return cam, centre, size


def test_crop_to_full_equals_hamer_for_a_centred_principal_point():
    cam, centre, size = _crop_case()
    Kc = torch.tensor([[900.0, 0, 320.0], [0, 900.0, 240.0], [0, 0, 1]], dtype=D64)
    torch.testing.assert_close(
        cam_crop_to_full(cam, centre, size, Kc),
        hamer_cam_crop_to_full(cam, centre, size, 640.0, 480.0, 900.0),
    )


def test_both_cameras_project_alike():
    """Projecting the hand both ways: exact on the plane X_z = 0, first order elsewhere."""
    cam, centre, size = _crop_case()
    T = cam_crop_to_full(cam, centre, size, K)
    local, _ = _hands(2, seed=3)
    flat = local.clone()
    flat[..., 2] = 0.0
    full = project(flat + T[:, None], K)
    weak = crop_to_image(weak_perspective_project(flat, cam), centre, size)
    torch.testing.assert_close(full, weak, atol=1e-9, rtol=0)
    # with depth: the gap shrinks linearly with the hand's depth extent relative to T_z
    gaps = []
    for scale in (1.0, 0.1):
        pts = local * torch.tensor([1.0, 1.0, scale], dtype=D64)
        full = project(pts + T[:, None], K)
        weak = crop_to_image(weak_perspective_project(pts, cam), centre, size)
        gaps.append(float((full - weak).abs().max()))
    assert gaps[0] > 0.1 and 0.05 < gaps[1] / gaps[0] < 0.2


def test_round_trips_with_a_general_K():
    cam, centre, size = _crop_case()
    Kg = torch.tensor([[700.0, 5.0, 290.0], [0.0, 680.0, 260.0], [0.0, 0.0, 1.0]], dtype=D64)
    T = cam_crop_to_full(cam, centre, size, Kg)
    torch.testing.assert_close(cam_full_to_crop(T, centre, size, Kg), cam, atol=1e-12, rtol=0)
    # the model origin lands where the weak camera puts it
    origin = project(T[:, None], Kg)[:, 0]
    torch.testing.assert_close(origin, centre + 0.5 * size[:, None] * cam[:, :1] * cam[:, 1:])
    T2 = torch.tensor([[0.03, -0.05, 0.7]], dtype=D64)
    torch.testing.assert_close(
        cam_crop_to_full(cam_full_to_crop(T2, centre[:1], size[:1], Kg), centre[:1], size[:1], Kg),
        T2,
    )
    with pytest.raises(HandposeError, match="camera"):
        cam_crop_to_full(cam[:, :2], centre, size, Kg)
