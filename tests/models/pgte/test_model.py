"""The PGTE network end to end: shapes, dtypes, the vertex subset, both hand models."""

import pytest
import torch

from handpose.handmodel import HandModel
from handpose.models.pgte import PGTE

from ..pgte.tiny import S, crop_K, frames, tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PGTE(tiny_config()).eval()


def test_shapes(model):
    V = HandModel("open").num_vertices
    x = frames(6).reshape(2, 3, 3, S, S)
    out = model(x, crop_K((2, 3)), torch.full((2, 3), 0.5))
    assert tuple(out.vertices.shape) == (2, 3, V, 3)
    assert tuple(out.joints3d.shape) == (2, 3, 21, 3)
    assert tuple(out.vertex_xy.shape) == (2, 3, V, 2)
    assert tuple(out.root_depth.shape) == (2, 3)
    assert model.heatmap_size == (8, 8)  # 32 px / stride 4
    single = model(x[:, 0], crop_K((2,)), torch.full((2,), 0.5))
    assert tuple(single.vertices.shape) == (2, V, 3)


def test_given_root_depth_is_used_and_joints_are_regressed(model):
    x = frames(2).reshape(1, 2, 3, S, S)
    out = model(x, crop_K((1, 2)), torch.tensor([[0.4, 0.6]]))
    assert torch.allclose(out.root_depth, torch.tensor([[0.4, 0.6]]))
    # eq. 3 exactly: each vertex depth is its root-relative depth plus the root's
    assert torch.allclose(out.vertices[..., 2], out.vertex_z + out.root_depth[..., None], atol=1e-6)
    j = model.regressor @ out.vertices[0, 0]
    assert torch.allclose(out.joints3d[0, 0], j, atol=1e-6)


def test_root_depth_recovered_without_input(model):
    out = model(frames(1).reshape(1, 1, 3, S, S), crop_K((1, 1)))
    assert torch.isfinite(out.vertices).all() and torch.isfinite(out.root_depth).all()


def test_vertex_subset_matches_full_mesh(model):
    x = frames(3).reshape(1, 3, 3, S, S)
    K, rd = crop_K((1, 3)), torch.full((1, 3), 0.5)
    full = model(x, K, rd)
    ids = torch.tensor([0, 17, 400, 1378])
    sub = model(x, K, rd, vertex_ids=ids)
    assert torch.allclose(sub.vertices, full.vertices[:, :, ids], atol=1e-6)
    assert torch.allclose(sub.vertex_z, full.vertex_z[:, :, ids], atol=1e-6)


def test_float64(model):
    m64 = PGTE(tiny_config()).double().eval()
    out = m64(
        frames(2, dtype=torch.float64).reshape(1, 2, 3, S, S), crop_K((1, 2), dtype=torch.float64)
    )
    assert out.vertices.dtype == torch.float64


def test_mano_sized_model(tmp_path):
    """Any vertex count: a random 778-vertex MANO-layout model file."""
    from tests.handmodel.mano_fixtures import random_model_data

    path = tmp_path / "mano_like.npz"
    random_model_data(0).save_npz(path)
    m = PGTE(tiny_config(hand_model=str(path), window=2)).eval()
    out = m(frames(2).reshape(1, 2, 3, S, S), crop_K((1, 2)), torch.full((1, 2), 0.5))
    assert tuple(out.vertices.shape) == (1, 2, 778, 3)
    assert tuple(m.regressor.shape) == (21, 778)


def test_bad_input_is_one_clear_error(model):
    from handpose.errors import HandposeError

    with pytest.raises(HandposeError, match="crops of shape"):
        model(torch.zeros(1, 2, 3, 16, 16), crop_K((1, 2)))
    with pytest.raises(HandposeError, match="K must have shape"):
        model(frames(2).reshape(1, 2, 3, S, S), crop_K((1, 3)))
    with pytest.raises(HandposeError, match="multiple of 8"):
        PGTE(tiny_config(image_size=36))


def test_checkpoint_has_no_hand_model_arrays(model):
    keys = set(model.state_dict())
    assert "regressor" not in keys and "faces" not in keys
