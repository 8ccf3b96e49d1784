"""The DIR network on a tiny configuration: shapes, stages, initialisation, camera frame, MANO
parameters in the schema's convention, bad input."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.geometry.camera import project
from handpose.handmodel import HandModel
from handpose.models.dir import DIRConfig, DIRNetwork, HandsEstimate, to_camera_frame
from handpose.models.dir.mano import normalised_to_pixels, pixels_to_normalised

TINY = dict(
    backbone="mobilenetv3_small_050",
    image_size=64,
    fused_channels=16,
    joint_channels=16,
    joint_out_channels=8,
    gcn_layers=2,
    transformer_depth=1,
    transformer_heads=2,
)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return DIRNetwork(TINY)


def _K(B, S=64):
    return torch.tensor([[90.0, 0, S / 2 - 0.5], [0, 90, S / 2 - 0.5], [0, 0, 1]]).expand(B, 3, 3)


def test_shapes_train_and_eval(net):
    x = torch.randn(2, 3, 64, 64)
    net.train()
    out = net(x)
    assert len(out.estimates) == 3
    V = net.decoder.num_vertices
    for e in out.estimates:
        assert e.joints.shape == (2, 2, 21, 3) and e.vertices.shape == (2, 2, V, 3)
        assert e.joints_uv.shape == (2, 2, 21, 2) and e.vector.shape == (2, 2, 64)
        assert e.offset.shape == (2, 3)
    # heads at the last stage's resolution (stride 8)
    assert out.segmentation.shape == (2, 3, 8, 8) and out.dense.shape == (2, 3, 8, 8)
    assert out.joints3d is None and out.joints2d.shape == (2, 2, 21, 2)
    net.eval()
    with torch.no_grad():
        out = net(x, _K(2))
    assert [e.vertices is None for e in out.estimates] == [True, True, False]
    assert out.joints3d.shape == (2, 2, 21, 3) and out.vertices.shape == (2, 2, V, 3)
    assert out.mano_transl.shape == (2, 2, 3) and bool((out.joints3d[..., 2] > 0).all())
    assert out.mano_hand_pose.shape == (2, 2, 45) and out.offset.shape == (2, 3)


def test_stages_start_by_repeating_the_estimate(net):
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 64, 64))
    v0 = out.estimates[0].vector
    for e in out.estimates[1:]:
        assert (e.vector - v0).abs().max() < 0.05 * v0.abs().max()
    # and the initial estimate is the mean hand with camera_init
    init = net.decoder.initial_vector()
    assert (v0 - init).abs().max() < 0.5


def test_gradients_reach_every_stage(net):
    net.train()
    out = net(torch.randn(2, 3, 64, 64))
    loss = out.final.joints.square().sum() + out.segmentation.sum() + out.dense.sum()
    net.zero_grad()
    loss.backward()
    for name in (
        "backbone",
        "initial",
        "stages.0.gcn",
        "stages.0.transformer",
        "stages.1.regressor",
    ):
        grads = [p.grad for n, p in net.named_parameters() if n.startswith(name)]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    # the bone projection of the last stage feeds only the heads
    grads = [p.grad for n, p in net.named_parameters() if n.startswith("stages.1.projection")]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_basic_model_and_no_attention():
    torch.manual_seed(1)
    basic = DIRNetwork({**TINY, "num_stages": 0, "attention_pooling": False}).eval()
    assert basic.segmentation_head is None and basic.initial.attention is None
    with torch.no_grad():
        out = basic(torch.randn(1, 3, 64, 64))
    assert len(out.estimates) == 1 and out.segmentation is None and out.dense is None
    assert out.final.vertices is not None
    one = DIRNetwork({**TINY, "num_stages": 1}).eval()
    with torch.no_grad():
        out = one(torch.randn(1, 3, 64, 64))
    assert len(out.estimates) == 2 and out.segmentation.shape[-1] == 4  # stride 16


def test_layout_offset_starts_as_dirs_head_and_reads_detached_positions():
    x = torch.randn(2, 3, 64, 64)
    for stages in (0, 2):
        torch.manual_seed(2)
        dir_head = DIRNetwork({**TINY, "num_stages": stages}).eval()
        torch.manual_seed(2)
        ours = DIRNetwork({**TINY, "num_stages": stages, "offset_layout": True}).eval()
        missing = ours.load_state_dict(dir_head.state_dict(), strict=False).missing_keys
        assert missing and all("layout" in k for k in missing)
        with torch.no_grad():
            a, b = dir_head(x), ours(x)
        # the layout MLP's last layer starts at zero: the same offsets as DIR's head alone
        assert torch.equal(a.offset, b.offset) and torch.equal(a.final.joints, b.final.joints)
        ours.train()
        ours(x).estimates[0].offset.sum().backward()
        # the offset loss trains the layout MLP but does not reach the hands' regression
        # through the (detached) 2D layout; DIR's own offset head shares no weights with it
        assert ours.initial_layout.mlp[-1].weight.grad.abs().sum() > 0
        assert all(fc.weight.grad is None for fc in ours.initial.fc)
        if stages:
            assert all(s.layout is not None for s in ours.stages)
    assert DIRConfig().offset_layout is False  # DIR's head is the paper preset's


def test_position_pooling_appends_the_attention_centroid():
    from handpose.models.dir.network import InitialRegressor, _cell_centres

    # a 2 × 4 map: cell centres at u = ±1/4, ±3/4 and v = ±1/2 (normalised crop coordinates,
    # ±1 = the crop edges, pixel centres at (2u + 1)/S − 1)
    c = _cell_centres(torch.zeros(1, 1, 2, 4))
    assert c.tolist() == [[-0.75, -0.5], [-0.25, -0.5], [0.25, -0.5], [0.75, -0.5],
                          [-0.75, 0.5], [-0.25, 0.5], [0.25, 0.5], [0.75, 0.5]]  # fmt: skip
    head = InitialRegressor(3, torch.zeros(5), attention=True, position=True)
    with torch.no_grad():  # hand 0 attends to channel 0, hand 1 to channel 1, sharply
        head.attention.weight.zero_()
        head.attention.bias.fill_(-50.0)
        head.attention.weight[0, 0] = head.attention.weight[1, 1] = 100.0
    c4 = torch.zeros(1, 3, 2, 4)
    c4[0, 0, 1, 2] = 1.0  # hand 0 at row 1, column 2 → (0.25, 0.5)
    c4[0, 1, 0, 0] = 1.0  # hand 1 at row 0, column 0 → (−0.75, −0.5)
    seen = []
    for fc in head.fc:
        fc.register_forward_hook(lambda m, inp, out, seen=seen: seen.append(inp[0]))
    head(c4)
    assert seen[0][0, -2:].tolist() == pytest.approx([0.25, 0.5], abs=1e-6)
    assert seen[1][0, -2:].tolist() == pytest.approx([-0.75, -0.5], abs=1e-6)
    net = DIRNetwork({**TINY, "num_stages": 0, "position_pooling": True}).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).final.joints.shape == (1, 2, 21, 3)
    assert DIRConfig().position_pooling is False


def test_camera_frame_agrees_with_the_weak_camera_on_the_model_plane():
    """cam_crop_to_full places the model so that points with model z = 0 project where the
    weak-perspective camera puts them."""
    g = torch.Generator().manual_seed(0)
    B, S = 3, 64
    pts = torch.rand(B, 2, 21, 3, generator=g, dtype=torch.float64) * 0.2 - 0.1
    pts[..., 2] = 0.0
    cam = torch.tensor([[[5.0, 0.02, -0.01], [6.0, -0.05, 0.03]]], dtype=torch.float64).expand(
        B, 2, 3
    )
    uv = cam[..., None, :1] * (pts[..., :2] + cam[..., None, 1:])
    z = torch.zeros(B, 2, 3, dtype=torch.float64)
    est = HandsEstimate(
        vector=z, offset=z[:, 0], rotmat=z, pca=z, betas=z, camera=cam, joints=pts,
        vertices=None, joints_uv=uv, vertices_uv=None,
    )  # fmt: skip
    K = torch.tensor([[100.0, 0, 30.0], [0, 100, 33.0], [0, 0, 1]], dtype=torch.float64)
    cf = to_camera_frame(est, K.expand(B, 3, 3), S)
    got = project(cf["joints3d"], K)
    np.testing.assert_allclose(got.numpy(), normalised_to_pixels(uv, S).numpy(), atol=1e-9)
    # T_z = 2f/(S·s)
    np.testing.assert_allclose(
        cf["transl"][0, :, 2].numpy(), [2 * 100 / (64 * 5), 2 * 100 / (64 * 6)]
    )
    np.testing.assert_allclose(
        pixels_to_normalised(normalised_to_pixels(uv, S), S).numpy(), uv.numpy()
    )


def test_schema_parameters_rebuild_the_meshes(net):
    """mano_* (full articulation, right / left model) + mano_transl reproduce the camera-frame
    output with the schema's flat-hand-mean hand models."""
    net.eval()
    torch.manual_seed(2)
    with torch.no_grad():
        for p in net.initial.fc.parameters():
            p.add_(0.05 * torch.randn_like(p))  # a non-trivial pose
        out = net(torch.randn(2, 3, 64, 64), _K(2))
    for slot, side in enumerate(("right", "left")):
        m = HandModel("open", side=side)
        h = m(
            global_orient=out.mano_global_orient[:, slot],
            hand_pose=out.mano_hand_pose[:, slot],
            betas=out.mano_betas[:, slot],
            transl=out.mano_transl[:, slot],
        )
        np.testing.assert_allclose(h.joints21.numpy(), out.joints3d[:, slot].numpy(), atol=2e-5)
        np.testing.assert_allclose(h.vertices.numpy(), out.vertices[:, slot].numpy(), atol=2e-5)


def test_float64_and_bad_input(net):
    net64 = DIRNetwork(TINY).double().eval()
    with torch.no_grad():
        out = net64(torch.randn(1, 3, 64, 64, dtype=torch.float64), _K(1).double())
    assert out.vertices.dtype == torch.float64
    with pytest.raises(HandposeError, match=r"\(B, 3, 64, 64\)"):
        net(torch.randn(1, 3, 32, 32))
    with pytest.raises(HandposeError, match="num_stages"):
        DIRConfig(num_stages=3)
    with pytest.raises(HandposeError, match="multiple of 32"):
        DIRConfig(image_size=100)
    with pytest.raises(HandposeError, match="unknown DIR model option"):
        DIRConfig.from_dict({"stages": 2})
    assert DIRConfig.from_dict(DIRConfig().to_dict()) == DIRConfig()


def test_size_accounting(net):
    from handpose.models.dir.size import measure_dir_size

    s = measure_dir_size(network=net)
    assert s.params == sum(s.params_by_part.values())
    assert s.params == sum(p.numel() for p in net.parameters())
    assert all(v > 0 for v in s.flops_by_part.values())
    assert sum(s.flops_by_part.values()) <= s.flops < 1.05 * sum(s.flops_by_part.values())
    # stage 2 holds at least its bone-projection convolution: 2·(2·20·8)·16·3·3 per cell, 8×8 cells
    assert s.flops_by_part["stage2"] >= 2 * (2 * 20 * 8) * 16 * 9 * 64
    assert s.hand_model_flops > 0 and s.macs == s.flops // 2
