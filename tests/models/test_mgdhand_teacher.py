"""MGDHand teacher: shapes, masking with the noise token, priors, hand-model handling."""

import pytest
import torch

from handpose.geometry.rotations import rotation_6d_to_matrix
from handpose.models.mgdhand import MGDHandTeacher, NetworkConfig, PriorConfig
from models.fakes import FakeHandModel, random_batch

NET = NetworkConfig(dim=16, depth=1, num_heads=2, mlp_ratio=2.0, head_hidden=16)
PRIORS = PriorConfig(shape_dim=6, pose_dim=7, motion_dim=5, motion_kernel_size=3)


def make_teacher(**kw):
    torch.manual_seed(0)
    args = dict(net=NET, priors=PRIORS, num_imus=7, maxlen=8, hand_model=FakeHandModel())
    args.update(kw)
    return MGDHandTeacher(**args)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_shapes_and_dtype(dtype):
    teacher = make_teacher().to(dtype)
    b = random_batch(batch=2, frames=6, dtype=dtype)
    out = teacher(b["pose6d"], b["betas"], b["imu"], b["mask"])
    assert out.rotmats.shape == (2, 6, 16, 3, 3) and out.rotmats.dtype == dtype
    assert out.pose6d.shape == (2, 6, 16, 6)
    assert out.betas.shape == (2, 10)
    assert out.joints.shape == (2, 6, 21, 3)
    assert out.vertices.shape == (2, 6, 40, 3)
    assert out.features.shape == (2, 6, 16, 16)
    assert {k: tuple(v.shape) for k, v in out.priors.items()} == {
        "shape": (2, 6),
        "pose": (2, 6, 16, 7),
        "motion": (2, 6, 16, 5),
    }
    assert {k: tuple(v.shape) for k, v in out.aux.items()} == {
        "betas": (2, 10),
        "rotmats": (2, 6, 16, 3, 3),
        "velocity": (2, 6, 21, 3),
        "acceleration": (2, 6, 21, 3),
    }
    # Rotations are proper, and joints are wrist-relative.
    eye = torch.eye(3, dtype=dtype).expand(2, 6, 16, 3, 3)
    assert torch.allclose(out.rotmats @ out.rotmats.transpose(-1, -2), eye, atol=1e-5)
    assert torch.allclose(out.joints[..., 0, :], torch.zeros(2, 6, 3, dtype=dtype))
    assert torch.allclose(rotation_6d_to_matrix(out.pose6d), out.rotmats)
    assert out.vertices is not None
    assert teacher(b["pose6d"], b["betas"], b["imu"], return_vertices=False).vertices is None


def test_starts_at_the_flat_mean_hand():
    """Heads start near zero (Xavier gain 0.01) around the identity pose and β = 0."""
    teacher = make_teacher()
    b = random_batch()
    out = teacher(b["pose6d"], b["betas"], b["imu"])
    assert (out.rotmats - torch.eye(3)).abs().max() < 0.05
    assert out.betas.abs().max() < 0.05


def test_masked_entries_are_replaced_by_the_noise_token():
    teacher = make_teacher()
    b = random_batch(frames=6)
    mask = b["mask"]
    assert mask.any() and (~mask).any()
    f = teacher.embed_mano(b["pose6d"], b["betas"], mask)
    bb = teacher.backbone
    pos = bb.pos_embed[0][None, None] + bb.temp_embed[0, :6][None]  # (1, T, 16, d)
    pos = pos.expand_as(f)
    # The pose part is replaced; β stays visible (supplement §1: Θ̂ = (θ̂_t, β)).
    w_beta = teacher.backbone.joints_embed.weight[:, 6:]
    beta_part = (b["betas"] @ w_beta.T)[:, None, None].expand_as(f)
    assert torch.allclose(f[mask], teacher.noise_token + beta_part[mask] + pos[mask], atol=1e-6)
    unmasked = teacher.embed_mano(b["pose6d"], b["betas"], None)
    assert torch.allclose(f[~mask], unmasked[~mask])
    assert not torch.allclose(f[mask], unmasked[mask])


def test_masked_pose_content_is_invisible():
    teacher = make_teacher().eval()
    b = random_batch(frames=6)
    mask = b["mask"]
    other = b["pose6d"].clone()
    other[mask] = torch.randn_like(other[mask])  # change only what is masked
    out1 = teacher(b["pose6d"], b["betas"], b["imu"], mask)
    out2 = teacher(other, b["betas"], b["imu"], mask)
    assert torch.allclose(out1.joints, out2.joints, atol=1e-6)
    assert torch.allclose(out1.priors["pose"], out2.priors["pose"], atol=1e-6)
    out3 = teacher(other, b["betas"], b["imu"], None)  # unmasked: it is seen
    assert not torch.allclose(out1.joints, out3.joints, atol=1e-6)


def test_no_mask_equals_all_false_mask():
    teacher = make_teacher().eval()
    b = random_batch()
    none = teacher(b["pose6d"], b["betas"], b["imu"], None)
    zeros = teacher(b["pose6d"], b["betas"], b["imu"], torch.zeros_like(b["mask"]))
    assert torch.equal(none.joints, zeros.joints)


def test_uses_the_imus():
    teacher = make_teacher().eval()
    b = random_batch()
    out1 = teacher(b["pose6d"], b["betas"], b["imu"], b["mask"])
    out2 = teacher(b["pose6d"], b["betas"], b["imu"] + 0.5, b["mask"])
    assert not torch.allclose(out1.joints, out2.joints)


def test_share_backbone_reuses_one_trunk():
    shared = make_teacher(share_backbone=True)
    separate = make_teacher(share_backbone=False)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    trunk_blocks = sum(
        p.numel() for k, p in separate.named_parameters() if k.startswith("imu_backbone.blocks")
    )
    assert trunk_blocks > 0
    assert not any(k.startswith("imu_backbone") for k, _ in shared.named_parameters())
    assert n(separate) - n(shared) > trunk_blocks  # the extra trunk + its norm/fusion
    b = random_batch()
    assert separate(b["pose6d"], b["betas"], b["imu"]).joints.shape == (2, 8, 21, 3)


def test_hand_model_is_not_in_the_state_dict_but_follows_dtype():
    teacher = make_teacher()
    assert not any("decoder" in k or "offsets" in k for k in teacher.state_dict())
    teacher.double()
    assert teacher.decoder.hand_model.offsets.dtype == torch.float64


def test_wrong_imu_count_and_missing_maxlen_raise():
    teacher = make_teacher()
    b = random_batch(num_imus=3)
    with pytest.raises(ValueError, match="7 IMU tokens"):
        teacher(b["pose6d"], b["betas"], b["imu"])
    b = random_batch(frames=9)
    with pytest.raises(ValueError, match="maxlen"):
        teacher(b["pose6d"], b["betas"], b["imu"])


def test_backward_reaches_every_trainable_parameter():
    teacher = make_teacher()
    b = random_batch()
    out = teacher(b["pose6d"], b["betas"], b["imu"], b["mask"])
    loss = out.joints.square().sum() + out.vertices.square().sum() + out.betas.square().sum()
    loss = loss + sum(v.square().sum() for v in out.priors.values())
    loss = loss + sum(v.square().sum() for v in out.aux.values())
    loss.backward()
    missing = [k for k, p in teacher.named_parameters() if p.grad is None]
    assert missing == []


# -- phase 2: the input skip and the vertex subset ------------------------------------------
def test_nearest_visible_fill_hand_computed():
    from handpose.models.mgdhand.teacher import nearest_visible_fill

    x = torch.arange(5.0)[None, :, None, None].expand(1, 5, 2, 6).clone()
    # Joint 0 visible at frames 1 and 4 only; joint 1 hidden everywhere.
    mask = torch.tensor([[[1, 1], [0, 1], [1, 1], [1, 1], [0, 1]]], dtype=torch.bool)
    out = nearest_visible_fill(x, mask)
    # frame 0 → 1 (only later one), 2 → 1 (closer), 3 → 4 (closer), visible frames kept.
    assert out[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0, 4.0, 4.0]
    # All-hidden joint → the identity's 6D code.
    assert out[0, :, 1].tolist() == [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]] * 5
    # A tie (frame 2 between visible 1 and 3) takes the earlier frame.
    mask2 = torch.tensor([[[1], [0], [1], [0], [1]]], dtype=torch.bool)
    out2 = nearest_visible_fill(x[:, :, :1], mask2)
    assert out2[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0, 3.0, 3.0]


def test_input_skip_starts_at_the_visible_input():
    teacher = make_teacher(input_skip=True)
    b = random_batch()
    out = teacher(b["pose6d"], b["betas"], b["imu"])  # nothing masked
    gt = rotation_6d_to_matrix(b["pose6d"])
    assert (out.rotmats - gt).abs().max() < 0.05
    assert (out.betas - b["betas"]).abs().max() < 0.05
    # Without the skip the same weights start at the flat hand instead.
    plain = make_teacher(input_skip=False)
    assert (plain(b["pose6d"], b["betas"], b["imu"]).rotmats - gt).abs().max() > 0.2


def test_input_skip_ignores_masked_entries():
    """No ground truth leaks through the skip: masked tokens may hold anything."""
    teacher = make_teacher(input_skip=True).eval()
    b = random_batch()
    mask = b["mask"].clone()
    mask[0, :, 3] = True  # one joint hidden in every frame of the first clip
    poked = b["pose6d"].clone()
    poked[mask] = torch.randn_like(poked[mask])
    with torch.no_grad():
        a = teacher(b["pose6d"], b["betas"], b["imu"], mask)
        c = teacher(poked, b["betas"], b["imu"], mask)
    assert torch.allclose(a.joints, c.joints, atol=1e-6)
    assert torch.allclose(a.priors["pose"], c.priors["pose"], atol=1e-6)


def test_vertex_subset_matches_the_full_mesh():
    teacher = make_teacher()
    b = random_batch()
    ids = torch.arange(0, 40, 8)
    full = teacher(b["pose6d"], b["betas"], b["imu"], b["mask"])
    sub = teacher(b["pose6d"], b["betas"], b["imu"], b["mask"], vertex_ids=ids)
    assert sub.vertices.shape[-2] == 5
    assert torch.allclose(sub.vertices, full.vertices[..., ids, :], atol=1e-6)
    assert torch.allclose(sub.joints, full.joints)


# -- the prior skip (investigation option) ---------------------------------------------------
def _with_random_skip(teacher):
    with torch.no_grad():
        for lin in (teacher.decoupling.skip_shape, teacher.decoupling.skip_pose,
                    teacher.decoupling.skip_motion):  # fmt: skip
            lin.weight.normal_()
    return teacher.eval()


def test_prior_skip_aux_heads_read_the_visible_input_from_the_start():
    b = random_batch()
    wide = PriorConfig(shape_dim=12, pose_dim=7, motion_dim=5)  # shape_dim ≥ 10 betas
    skip = make_teacher(prior_skip=True, priors=wide).eval()
    plain = make_teacher(priors=wide).eval()
    with torch.no_grad():
        a = skip(b["pose6d"], b["betas"], b["imu"])  # nothing masked
        c = plain(b["pose6d"], b["betas"], b["imu"])
    gt = rotation_6d_to_matrix(b["pose6d"])
    # Without the skip the pose prior's θ head starts near the identity, with it near the input.
    assert (a.aux["rotmats"] - gt).abs().mean() < 0.5 * (c.aux["rotmats"] - gt).abs().mean()
    err = (a.aux["betas"] - b["betas"]).abs().mean()
    assert err < 0.5 * (c.aux["betas"] - b["betas"]).abs().mean()
    skip.load_state_dict(plain.state_dict(), strict=False)  # same weights but the skip's
    with torch.no_grad():
        a = skip(b["pose6d"], b["betas"], b["imu"])
    torch.testing.assert_close(a.joints, c.joints)  # the MANO read-out is untouched


def test_prior_skip_ignores_masked_entries_and_learns():
    teacher = _with_random_skip(make_teacher(prior_skip=True))
    b = random_batch()
    mask = b["mask"].clone()
    mask[0, :, 3] = True
    poked = b["pose6d"].clone()
    poked[mask] = torch.randn_like(poked[mask])
    with torch.no_grad():
        a = teacher(b["pose6d"], b["betas"], b["imu"], mask)
        c = teacher(poked, b["betas"], b["imu"], mask)
    for k in ("shape", "pose", "motion"):
        torch.testing.assert_close(a.priors[k], c.priors[k], atol=1e-6, rtol=0)
    teacher = make_teacher(prior_skip=True).train()  # zero motion skip: gradients reach it
    out = teacher(b["pose6d"], b["betas"], b["imu"], b["mask"])
    sum(v.square().sum() for v in out.aux.values()).backward()
    for lin in ("skip_shape", "skip_pose", "skip_motion"):
        assert getattr(teacher.decoupling, lin).weight.grad.abs().sum() > 0


def test_temporal_differences_hand_computed():
    from handpose.models.mgdhand.decoupling import temporal_differences

    x = torch.tensor([1.0, 4.0, 9.0, 16.0])[None, :, None]  # (1, 4, 1): t²
    out = temporal_differences(x)
    assert out[0, :, 0].tolist() == [0.0, 3.0, 5.0, 7.0]
    assert out[0, :, 1].tolist() == [0.0, 0.0, 2.0, 2.0]


# -- issue 16: no shortcut from the teacher's input to its own target -----------------------
def test_default_teacher_does_not_copy_its_visible_input():
    """Without the input skip (the presets' default) nothing masked is not "the answer given":
    at initialisation the teacher is as far from its input pose as from the flat hand."""
    b = random_batch()
    hand = FakeHandModel()
    gt = hand(global_orient=rotation_6d_to_matrix(b["pose6d"][..., 0, :]),
              hand_pose=rotation_6d_to_matrix(b["pose6d"][..., 1:, :]),
              betas=b["betas"][:, None].expand(2, 8, 10)).joints21  # fmt: skip
    gt = gt - gt[..., :1, :]
    flat = make_teacher(hand_model=hand)
    skip = make_teacher(hand_model=hand, input_skip=True)
    with torch.no_grad():
        err_flat = (flat(b["pose6d"], b["betas"], b["imu"]).joints - gt).norm(dim=-1).mean()
        err_skip = (skip(b["pose6d"], b["betas"], b["imu"]).joints - gt).norm(dim=-1).mean()
        identity = torch.eye(3).expand(2, 8, 16, 3, 3)
        rest = hand(global_orient=identity[..., 0, :, :], hand_pose=identity[..., 1:, :, :],
                    betas=torch.zeros(2, 8, 10)).joints21  # fmt: skip
        err_rest = ((rest - rest[..., :1, :]) - gt).norm(dim=-1).mean()
    assert err_skip < 0.05 * err_rest  # the shortcut: the input read back
    assert err_flat > 0.5 * err_rest  # the default: no such path


def test_fully_masked_teacher_cannot_see_the_pose():
    """With every pose token masked the output depends on the IMUs and β only, so its error on
    fully masked input cannot be near zero unless the IMUs alone determine the pose."""
    for kw in ({}, {"root_index": 5}, {"prior_skip": True}):
        teacher = make_teacher(**kw).eval()
        b = random_batch()
        mask = torch.ones_like(b["mask"])
        other = random_batch(seed=1)["pose6d"]
        with torch.no_grad():
            a = teacher(b["pose6d"], b["betas"], b["imu"], mask)
            c = teacher(other, b["betas"], b["imu"], mask)
            d = teacher(b["pose6d"], b["betas"] + 1.0, b["imu"], mask)
        torch.testing.assert_close(a.joints, c.joints, atol=1e-6, rtol=0)
        for k in ("shape", "pose", "motion"):
            torch.testing.assert_close(a.priors[k], c.priors[k], atol=1e-6, rtol=0)
        assert not torch.allclose(a.features, d.features, atol=1e-4)  # β stays visible (§1)


def test_root_skip_starts_at_the_root_imu_orientation():
    teacher = make_teacher(root_index=5).eval()
    b = random_batch()
    with torch.no_grad():
        out = teacher(b["pose6d"], b["betas"], b["imu"], torch.ones_like(b["mask"]))
    root = rotation_6d_to_matrix(b["imu"][:, :, 5, :6])
    assert (out.rotmats[:, :, 0] - root).abs().max() < 0.05
    assert (out.rotmats[:, :, 1:] - torch.eye(3)).abs().max() < 0.05
    with pytest.raises(ValueError, match="root_index"):
        make_teacher(root_index=7)
