"""The joints → mesh regressor: exact at the start for flat hands, mirrored left hands,
training lowers its loss, safetensors round trip."""

import pytest
import torch
from training.imagedata import make_samples

from handpose.errors import HandposeError
from handpose.geometry.rotations import axis_angle_to_matrix
from handpose.handmodel import HandModel
from handpose.models.mesh_regressor import (
    JointsToMesh,
    MeshRegressorConfig,
    load_mesh_regressor,
    save_mesh_regressor,
    train_mesh_regressor,
)

CFG = MeshRegressorConfig(hidden=32, layers=2)


def _flat_hands(n, side, seed=0):
    g = torch.Generator().manual_seed(seed)
    R = axis_angle_to_matrix(torch.randn(n, 3, generator=g))
    t = torch.randn(n, 3, generator=g) * 0.05 + torch.tensor([0.0, 0.0, 0.5])
    out = HandModel("open", side=side)(global_orient=R, hand_pose=torch.zeros(n, 45), transl=t)
    return out.joints21, out.vertices


def test_untrained_regressor_recovers_flat_hands_exactly_on_both_sides():
    torch.manual_seed(0)
    model = JointsToMesh(CFG).eval()
    for side in ("right", "left"):
        joints, verts = _flat_hands(4, side)
        with torch.no_grad():
            out = model(joints, torch.full((4,), side == "left"))
        assert out.vertices.shape == verts.shape
        torch.testing.assert_close(out.vertices, verts, atol=2e-5, rtol=0)
        torch.testing.assert_close(out.joints21, joints, atol=2e-5, rtol=0)
    with pytest.raises(HandposeError, match=r"\(B, 21, 3\)"):
        model(torch.zeros(2, 20, 3))


@pytest.mark.slow
def test_training_lowers_the_loss_and_the_file_round_trips(tmp_path):
    samples = make_samples(12, seed=0, size=48)

    class Source(list):
        meta = {"hand_model": "open"}

    src = Source(samples)
    model0, info0 = train_mesh_regressor(src, CFG, steps=1, batch_size=12, noise_mm=0.0)
    model, info = train_mesh_regressor(src, CFG, steps=30, batch_size=12, lr=3e-3, noise_mm=0.0)
    assert info["hands"] == 12 and info["final_loss_mm"] < info0["final_loss_mm"]
    path = save_mesh_regressor(model, tmp_path / "m.safetensors", info)
    loaded, linfo = load_mesh_regressor(path)
    assert linfo == info and loaded.config == CFG
    j = torch.stack([torch.as_tensor(s["joints3d"][s["hand_valid"].argmax()]) for s in samples])
    left = torch.tensor([bool(s["hand_valid"][1]) for s in samples])
    with torch.no_grad():
        torch.testing.assert_close(loaded(j, left).vertices, model(j, left).vertices)
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(HandposeError, match="not a readable safetensors"):
        load_mesh_regressor(tmp_path / "bad.safetensors")
    with pytest.raises(HandposeError, match="does not exist"):
        load_mesh_regressor(tmp_path / "missing.safetensors")
    Source.meta = {"hand_model": "mano"}
    with pytest.raises(HandposeError, match="hand model"):
        train_mesh_regressor(Source(samples), CFG, steps=1)
