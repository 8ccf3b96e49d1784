"""DIR's losses: hand-computed terms, the Lovász extension against its definition, targets,
zero loss at the ground truth, and the left/right swap under a flip end to end."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from handpose.errors import HandposeError
from handpose.losses.dir import (
    STAGE_TERMS,
    DIRLossConfig,
    dir_loss,
    dir_targets,
    huber,
    majority_downsample,
)
from handpose.losses.mesh import edge_length_loss, normal_consistency_loss
from handpose.losses.segmentation import lovasz_softmax, weighted_cross_entropy
from handpose.models.dir.mano import HandsEstimate
from handpose.models.dir.network import DIROutput

TRI = torch.tensor([[0, 1, 2]])
UNIT = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)


# ----------------------------------------------------------------------------- element losses
def test_huber_constants_and_reference():
    e = torch.tensor([-0.03, -0.01, -0.004, 0.0, 0.004, 0.01, 0.03], dtype=torch.float64)
    got = huber(e, torch.zeros_like(e))
    want = [0.01 * 0.025, 0.5e-4, 8e-6, 0.0, 8e-6, 0.5e-4, 0.01 * 0.025]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-18)
    x = torch.randn(100, dtype=torch.float64) * 0.02
    ref = F.huber_loss(x, torch.zeros_like(x), reduction="none", delta=0.01)
    np.testing.assert_allclose(huber(x, torch.zeros_like(x)).numpy(), ref.numpy(), rtol=1e-12)


def test_edge_length_hand_computed_and_rigid_invariance():
    # pred = 2 × gt: edge lengths (2, 2√2, 2) vs (1, √2, 1)
    got = edge_length_loss(2 * UNIT, UNIT, TRI)
    assert float(got) == pytest.approx((2 + math.sqrt(2)) / 3)
    R = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))[0]
    v = torch.randn(2, 30, 3, dtype=torch.float64)
    f = torch.randint(0, 30, (40, 3))
    assert float(edge_length_loss(v @ R.T + 0.3, v, f)) == pytest.approx(0.0, abs=1e-12)
    # an invalid mesh does not count, whatever it holds
    bad = v.clone()
    bad[1] += torch.randn(30, 3, dtype=torch.float64)
    valid = torch.tensor([True, False])
    assert float(edge_length_loss(bad, v, f, valid)) == pytest.approx(0.0, abs=1e-12)
    assert float(edge_length_loss(bad, v, f)) > 0.01


def test_normal_consistency_hand_computed():
    # gt in the z = 0 plane (normal +z); pred corner 1 lifted to z = 1
    pred = torch.tensor([[0.0, 0, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float64)
    got = normal_consistency_loss(pred, UNIT, TRI)
    # edges (1, 0, 1): |cos| = 1/√2; (−1, 1, −1): 1/√3; (0, −1, 0): 0
    assert float(got) == pytest.approx((1 / math.sqrt(2) + 1 / math.sqrt(3)) / 3)
    v = torch.randn(30, 3, dtype=torch.float64)
    f = torch.randint(0, 30, (40, 3))
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    assert float(normal_consistency_loss(v + 1.0, v, f)) == pytest.approx(0.0, abs=1e-9)
    assert float(normal_consistency_loss(1.5 * v, v, f)) == pytest.approx(0.0, abs=1e-9)


# ----------------------------------------------------------------------------- segmentation
def _jaccard_set_loss(fg: set, errors: set) -> float:
    """Δ_J(M) = |M| / |fg ∪ M| (Berman et al., Eq. 3)."""
    union = fg | errors
    return len(errors) / len(union) if union else 0.0


def _naive_lovasz(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """The Lovász extension by its definition: sort, then differences of the set function."""
    C = probs.shape[1]
    p = probs.permute(0, 2, 3, 1).reshape(-1, C).numpy()
    y = labels.reshape(-1).numpy()
    out = []
    for c in range(C):
        fg = set(np.flatnonzero(y == c).tolist())
        if not fg:
            continue
        m = np.abs((y == c).astype(float) - p[:, c])
        order = np.argsort(-m, kind="stable")
        total, prev, prefix = 0.0, 0.0, set()
        for i in order:
            prefix.add(int(i))
            cur = _jaccard_set_loss(fg, prefix)
            total += m[i] * (cur - prev)
            prev = cur
        out.append(total)
    return float(np.mean(out))


def test_lovasz_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64), 1)
    labels = torch.randint(0, 3, (2, 5, 4), generator=g)
    labels[labels == 2] = 1  # class 2 absent: left out ("present" classes)
    got = float(lovasz_softmax(probs, labels))
    assert got == pytest.approx(_naive_lovasz(probs, labels), rel=1e-10)


def test_lovasz_hard_predictions_give_one_minus_iou():
    labels = torch.tensor([[[0, 0, 1, 1], [0, 2, 2, 1]]])
    pred = torch.tensor([[[0, 1, 1, 1], [0, 0, 2, 1]]])
    probs = F.one_hot(pred, 3).permute(0, 3, 1, 2).double()
    # IoU (flat indices): class 0 {0, 1, 4} vs {0, 4, 5} = 2/4; class 1 {2, 3, 7} vs
    # {1, 2, 3, 7} = 3/4; class 2 {5, 6} vs {6} = 1/2
    want = np.mean([1 - 2 / 4, 1 - 3 / 4, 1 - 1 / 2])
    assert float(lovasz_softmax(probs, labels)) == pytest.approx(want, rel=1e-12)
    assert float(lovasz_softmax(F.one_hot(labels, 3).permute(0, 3, 1, 2).double(), labels)) == 0.0
    with pytest.raises(HandposeError, match="lovasz"):
        lovasz_softmax(probs[0], labels)


def test_weighted_cross_entropy_hand_computed():
    logits = torch.tensor([[[[2.0]], [[0.0]], [[0.0]]], [[[0.0]], [[1.0]], [[0.0]]]]).double()
    labels = torch.tensor([[[0]], [[2]]])
    w = (0.1, 0.45, 0.45)
    l0 = -math.log(math.exp(2) / (math.exp(2) + 2))
    l1 = -math.log(1 / (math.e + 2))
    want = (0.1 * l0 + 0.45 * l1) / (0.1 + 0.45)
    assert float(weighted_cross_entropy(logits, labels, w)) == pytest.approx(want, rel=1e-12)


def test_majority_downsample_and_ties():
    m = torch.zeros(1, 4, 4, dtype=torch.long)
    m[0, 0, :2] = 1  # top-left block: two 1s, two 0s → tie → 1
    m[0, :2, 2:] = 2
    m[0, 0, 2] = 1  # top-right block: three 2s, one 1 → 2
    m[0, 2:, :2] = torch.tensor([[1, 2], [2, 1]])  # tie 1 / 2 → 2
    got = majority_downsample(m, (2, 2), 3)
    assert got.tolist() == [[[1, 2], [2, 0]]]
    with pytest.raises(HandposeError, match="blocks"):
        majority_downsample(m, (3, 3), 3)


# ----------------------------------------------------------------------------- targets and the total
def _batch(seed=0, S=16, V=12):
    g = torch.Generator().manual_seed(seed)
    B = 3
    K = torch.tensor([[40.0, 0, 7.5], [0, 40, 7.5], [0, 0, 1]]).expand(B, 3, 3).clone()
    j3 = torch.randn(B, 2, 21, 3, generator=g) * 0.03 + torch.tensor([0.0, 0, 0.5])
    v = torch.randn(B, 2, V, 3, generator=g) * 0.03 + torch.tensor([0.0, 0, 0.5])
    j2 = (j3 @ K[:, None].mT)[..., :2] / (j3 @ K[:, None].mT)[..., 2:]
    hv = torch.tensor([[True, True], [True, False], [True, True]])
    jv = hv[..., None].expand(B, 2, 21).clone()
    jv[2, 0, 20] = False
    mask = torch.randint(0, 4, (B, S, S), generator=g, dtype=torch.uint8)
    return {
        "image": torch.rand(B, 3, S, S, generator=g),
        "K": K,
        "joints3d": j3,
        "joints2d": j2,
        "vertices": v,
        "hand_valid": hv,
        "joint_valid": jv,
        "mask": mask,
        "extra_dense": torch.randn(B, 3, S, S, generator=g) * 0.05,
    }


def test_targets_hand_computed():
    b = _batch()
    t = dir_targets(b)
    S = 16
    # pixel u ↔ normalised (2u + 1)/S − 1: u = −0.5 → −1, u = 7.5 → 0
    np.testing.assert_allclose(
        t["joints_uv"].numpy(), ((2 * b["joints2d"] + 1) / S - 1).numpy(), atol=1e-6
    )
    np.testing.assert_allclose(
        t["joints_xyz"][0, 1, 3].numpy(),
        ((b["joints3d"][0, 1, 3] - b["joints3d"][0, 1, 9]) / 0.15).numpy(),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        t["offset"][2].numpy(),
        ((b["joints3d"][2, 0, 0] - b["joints3d"][2, 1, 0]) / 0.15).numpy(),
        atol=1e-6,
    )
    v = b["vertices"][0, 0, 4].double()
    u = 40 * v[0] / v[2] + 7.5
    assert float(t["vertices_uv"][0, 0, 4, 0]) == pytest.approx(
        float((2 * u + 1) / S - 1), rel=1e-5
    )
    assert t["both"].tolist() == [True, False, True]
    assert not t["joint_valid"][1, 1].any() and not t["joint_valid"][2, 0, 20]
    assert (t["labels"] == 3).sum() == 0 and torch.equal(
        t["labels"] == 0, (b["mask"] == 0) | (b["mask"] == 3)
    )
    np.testing.assert_allclose(t["dense"].numpy(), (b["extra_dense"] / 0.15).numpy(), rtol=1e-6)


def _estimate(batch, t, noise=0.0, seed=0) -> HandsEstimate:
    g = torch.Generator().manual_seed(seed)

    def n(x):
        return x + noise * torch.randn(x.shape, generator=g, dtype=x.dtype)

    B = batch["joints3d"].shape[0]
    z = torch.zeros(B, 2, 3)
    return HandsEstimate(
        vector=torch.zeros(B, 2, 64),
        offset=n(t["offset"]),
        rotmat=torch.eye(3).expand(B, 2, 3, 3),
        pca=torch.zeros(B, 2, 45),
        betas=torch.zeros(B, 2, 10),
        camera=z,
        joints=n(batch["joints3d"]),
        vertices=n(batch["vertices"]),
        joints_uv=n(t["joints_uv"]),
        vertices_uv=n(t["vertices_uv"]),
    )


def _output(estimates, seg, dense, S) -> DIROutput:
    B = estimates[0].joints.shape[0]
    z = torch.zeros(B, 2, 3)
    return DIROutput(
        estimates=estimates,
        segmentation=seg,
        dense=dense,
        image_size=S,
        joints2d=torch.zeros(B, 2, 21, 2),
        offset=torch.zeros(B, 3),
        mano_global_orient=z,
        mano_hand_pose=torch.zeros(B, 2, 45),
        mano_betas=torch.zeros(B, 2, 10),
    )


FACES = (torch.randint(0, 12, (10, 3), generator=torch.Generator().manual_seed(9)),) * 2


def test_zero_at_the_ground_truth_and_masks():
    b = _batch()
    t = dir_targets(b)
    seg_labels = majority_downsample(t["labels"], (4, 4), 3)
    seg = 50.0 * F.one_hot(seg_labels, 3).permute(0, 3, 1, 2).float()
    dense = F.avg_pool2d(t["dense"], 4)
    est = _estimate(b, t)
    logs = dir_loss(_output([est, est], seg, dense, 16), t, FACES)
    for k in range(2):
        for term in STAGE_TERMS:
            assert float(logs[f"stage{k}/{term}"]) == pytest.approx(0.0, abs=1e-6), term
    assert float(logs["segmentation_lovasz"]) < 1e-12 and float(logs["segmentation_ce"]) < 1e-12
    assert float(logs["dense"]) == 0.0 and float(logs["loss"]) < 1e-5
    # garbage in the invalid slot (sample 1, left) and at invalid joints changes nothing
    bad = _estimate(b, t)
    bad.joints = bad.joints.clone()
    bad.joints[1, 1] += 5.0
    bad.joints_uv = bad.joints_uv.clone()
    bad.joints_uv[1, 1] += 3.0
    bad.joints_uv[2, 0, 20] += 3.0
    bad.vertices = bad.vertices.clone()
    bad.vertices[1, 1] *= 4.0
    bad.offset = bad.offset.clone()
    bad.offset[1] += 9.0  # sample 1 has one hand: no offset target
    logs_bad = dir_loss(_output([bad], None, None, 16), t, FACES)
    assert float(logs_bad["loss"]) == pytest.approx(0.0, abs=1e-5)
    # a wrong valid hand costs: 10 · huber for a 0.1 normalised shift of the joints' u
    worse = _estimate(b, t)
    worse.joints_uv = worse.joints_uv + torch.tensor([0.1, 0.0])
    logs_w = dir_loss(_output([worse], None, None, 16), t, FACES)
    want = float(huber(torch.tensor([0.1, 0.0]), torch.zeros(2)).mean())
    assert float(logs_w["stage0/joints_uv"]) == pytest.approx(want, rel=1e-5)
    assert float(logs_w["loss"]) == pytest.approx(10 * want, rel=1e-4)


def test_l1_variant_and_config():
    b = _batch(1)
    t = dir_targets(b)
    est = _estimate(b, t)
    est.joints_uv = est.joints_uv + 0.1
    cfg = DIRLossConfig(position_loss="l1")
    assert float(dir_loss(_output([est], None, None, 16), t, FACES, cfg)["stage0/joints_uv"]) == (
        pytest.approx(0.1, rel=1e-4)
    )
    # δ·L1: the Huber loss's slope beyond δ (0.01 · 0.1), and the Huber loss itself is that
    # minus δ²/2 there: 0.01 · (0.1 − 0.005)
    cfg = DIRLossConfig(position_loss="l1_delta")
    got = float(dir_loss(_output([est], None, None, 16), t, FACES, cfg)["stage0/joints_uv"])
    assert got == pytest.approx(0.001, rel=1e-4)
    huber_logs = dir_loss(_output([est], None, None, 16), t, FACES)
    assert float(huber_logs["stage0/joints_uv"]) == pytest.approx(0.001 - 0.00005, rel=1e-4)
    assert DIRLossConfig.from_dict({"dense": 2}).dense == 2.0
    with pytest.raises(HandposeError, match="position_loss"):
        DIRLossConfig(position_loss="l2")
    with pytest.raises(HandposeError, match="unknown DIR loss option"):
        DIRLossConfig.from_dict({"dense_weight": 1})


# ----------------------------------------------------------------------------- flip end to end
def _mirror_estimate(e: HandsEstimate, swap: bool = True) -> HandsEstimate:
    def mx(x):  # x → −x, slots swapped
        x = x * torch.tensor([-1.0] + [1.0] * (x.shape[-1] - 1), dtype=x.dtype)
        return x.flip(1) if swap else x

    return HandsEstimate(
        vector=e.vector.flip(1),
        offset=e.offset * torch.tensor([1.0, -1.0, -1.0]),  # −M·(R − L)
        rotmat=e.rotmat,
        pca=e.pca,
        betas=e.betas,
        camera=e.camera,
        joints=mx(e.joints),
        vertices=mx(e.vertices),
        joints_uv=mx(e.joints_uv),
        vertices_uv=mx(e.vertices_uv),
    )


def _mirror_maps(seg, dense):
    seg = seg.flip(-1)[:, [0, 2, 1]]
    dense = dense.flip(-1) * torch.tensor([-1.0, 1.0, 1.0]).view(1, 3, 1, 1)
    return seg, dense


@pytest.fixture(scope="module")
def twohand_root(tmp_path_factory):
    pytest.importorskip("moderngl", reason="moderngl not installed")
    from handpose.render.gl import gl_available
    from handpose.simulators.images.generate import ImageSynthConfig, generate_images

    ok, why = gl_available()
    if not ok:
        pytest.skip(f"no EGL context: {why}")
    root = tmp_path_factory.mktemp("twohand")
    cfg = ImageSynthConfig(
        kind="twohand", counts={"train": 4, "val": 0, "test": 0}, dense=True, size=64,
        subjects={"train": 2, "val": 1, "test": 1}, distractors=1, antialias=0,
        single_hand_prob=0.5, seed=3,
    )  # fmt: skip
    generate_images(cfg, root)
    return root


def test_flip_swaps_left_and_right_end_to_end(twohand_root):
    """Rendered two-hand samples → ImageDataset (dense) → flip augmentation → targets → loss:
    the flipped batch's targets are the mirrored, slot-swapped targets, and a mirrored,
    slot-swapped prediction has the same loss; without the swap it does not."""
    from handpose.datasets.augment import AugmentConfig
    from handpose.datasets.image_dataset import ImageBatchCollate, ImageDataset
    from handpose.formats.shards import open_shards

    ds = ImageDataset(open_shards(twohand_root).split("train"), size=64, crop="none", dense=True)
    samples = [ds[i] for i in range(len(ds))]
    flip = AugmentConfig.none()
    flip.flip_p = 1.0
    plain = ImageBatchCollate(None, normalize=False)(samples)
    flipped = ImageBatchCollate(flip, normalize=False, seed=0)(samples)
    t, tf = dir_targets(plain), dir_targets(flipped)
    assert t["both"].any() and not t["both"].all()  # interacting and single-hand frames

    def mx(x):
        return (x * torch.tensor([-1.0] + [1.0] * (x.shape[-1] - 1))).flip(1)

    hv = t["hand_valid"]
    for key in ("joints_uv", "joints_xyz"):
        np.testing.assert_allclose(tf[key].numpy(), mx(t[key]).numpy(), atol=2e-4)
    for key in ("vertices_uv", "vertices_xyz"):
        np.testing.assert_allclose(
            tf[key][hv.flip(1)].numpy(), mx(t[key])[hv.flip(1)].numpy(), atol=2e-4
        )
    assert torch.equal(tf["hand_valid"], hv.flip(1))
    assert torch.equal(tf["joint_valid"], t["joint_valid"].flip(1))
    both = t["both"]
    np.testing.assert_allclose(
        tf["offset"][both].numpy(), (t["offset"] * torch.tensor([1.0, -1, -1]))[both].numpy(),
        atol=1e-5,
    )  # fmt: skip
    swapped = torch.tensor([0, 2, 1])[t["labels"]].flip(-1)
    assert torch.equal(tf["labels"], swapped)
    np.testing.assert_allclose(
        tf["dense"].numpy(), (t["dense"].flip(-1) * torch.tensor([-1.0, 1, 1]).view(1, 3, 1, 1)).numpy(),
        atol=1e-4,
    )  # fmt: skip
    assert (t["labels"] == 1).any() and (t["labels"] == 2).any()  # both hands are drawn

    # the loss: a perturbed prediction on the plain batch vs its mirror on the flipped one
    est = _estimate(plain, t, noise=0.02, seed=1)
    g = torch.Generator().manual_seed(2)
    seg = torch.randn(t["labels"].shape[0], 3, 64, 64, generator=g)
    dense = t["dense"] + 0.05 * torch.randn(t["dense"].shape, generator=g)
    faces = (torch.tensor([[0, 1, 2], [2, 3, 4]]), torch.tensor([[0, 2, 1], [2, 4, 3]]))
    logs = dir_loss(_output([est], seg, dense, 64), t, faces)
    seg_f, dense_f = _mirror_maps(seg, dense)
    logs_f = dir_loss(_output([_mirror_estimate(est)], seg_f, dense_f, 64), tf, faces)
    for k, v in logs.items():
        assert float(logs_f[k]) == pytest.approx(float(v), rel=1e-3, abs=1e-7), k
    wrong = dir_loss(_output([_mirror_estimate(est, swap=False)], seg_f, dense_f, 64), tf, faces)
    for k in ("stage0/joints_uv", "stage0/joints_xyz", "stage0/vertices_uv"):
        assert float(wrong[k]) > 2 * float(logs[k]), k
    assert float(wrong["loss"]) > float(logs["loss"]) + 0.05


def test_vertex_and_face_strides_select_subsets():
    b = _batch(2)
    t = dir_targets(b)
    est = _estimate(b, t)
    est.vertices = est.vertices.clone()
    est.vertices[:, :, 1::4] += 0.05  # only vertices the stride-4 subset skips
    faces = (torch.tensor([[0, 4, 8], [1, 2, 3]]),) * 2
    full = dir_loss(_output([est], None, None, 16), t, faces)
    sub = dir_loss(_output([est], None, None, 16), t, faces,
                   DIRLossConfig(vertex_stride=4, face_stride=2))  # fmt: skip
    assert float(full["stage0/vertices_xyz"]) > 0 and float(full["stage0/edge"]) > 0
    assert float(sub["stage0/vertices_xyz"]) == pytest.approx(0.0, abs=1e-7)
    assert float(sub["stage0/edge"]) == pytest.approx(0.0, abs=1e-7)  # face (0, 4, 8) only
    with pytest.raises(HandposeError, match="stride"):
        DIRLossConfig(face_stride=0)
