"""MANO convention conversions, pinned by hand-computed constants."""

import math

import numpy as np
import pytest
import torch

from handpose.datasets.mano_convert import (
    ManoModels,
    freihand_root,
    hanco_root,
    mano_world_to_camera,
    nonflat_to_flat,
    pca_to_flat,
)
from handpose.errors import HandposeError
from tests.datasets.real_fixtures import mano_models

K = np.array([[500.0, 0, 112], [0, 520.0, 110], [0, 0, 1]])


def test_nonflat_and_pca_constants():
    mean = np.arange(45) * 0.01
    np.testing.assert_allclose(nonflat_to_flat(np.full(45, 0.5), mean), 0.5 + mean)
    comps = 2.0 * np.eye(45)
    c = np.zeros(45)
    c[0], c[44] = 1.0, -0.25
    flat = pca_to_flat(c, comps, mean)
    assert flat[0] == pytest.approx(2.0 + 0.0) and flat[44] == pytest.approx(-0.5 + 0.44)
    np.testing.assert_allclose(flat[1:44], mean[1:44])
    # fewer coefficients use the first rows of the basis
    np.testing.assert_allclose(pca_to_flat([1.0, 1.0], comps, mean)[:3], [2.0, 2.01, 0.02])


def test_weak_perspective_roots():
    # FreiHAND: [u − cx, v − cy, (fx + fy)/2] / s = [8, −10, 510] / 2.5
    np.testing.assert_allclose(freihand_root([120.0, 100.0], 2.5, K), [3.2, -4.0, 204.0])
    # HanCo: z = 510 / 2.5 = 204; x = (120 − 112)/500·204, y = (100 − 110)/520·204
    np.testing.assert_allclose(
        hanco_root([120.0, 100.0], 2.5, K), [3.264, -10 / 520 * 204, 204.0], rtol=1e-12
    )


def test_world_to_camera_constant():
    Rz = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # 90° about z
    go, tr = mano_world_to_camera(np.zeros(3), [1.0, 0, 0], Rz, np.array([0, 0, 2.0]), np.zeros(3))
    np.testing.assert_allclose(go, [0, 0, math.pi / 2], atol=1e-12)
    np.testing.assert_allclose(tr, [0, 1, 2], atol=1e-12)
    # with a root pivot J0 = (0, 0.1, 0): transl' = R(J0 + transl) + t − J0
    go, tr = mano_world_to_camera(np.zeros(3), [1.0, 0, 0], Rz, np.array([0, 0, 2.0]), [0, 0.1, 0])
    np.testing.assert_allclose(tr, [-0.1 - 0.0, 1.0 - 0.1, 2.0], atol=1e-12)


def test_world_to_camera_moves_the_mesh_exactly():
    models = ManoModels(mano_models())
    rng = np.random.default_rng(0)
    for side in ("right", "left"):
        go, theta, betas, transl = (
            rng.normal(0, 0.5, 3),
            rng.normal(0, 0.3, 45),
            rng.normal(0, 1, 10),
            rng.normal(0, 0.1, 3),
        )
        from handpose.geometry.rotations import axis_angle_to_matrix

        R = axis_angle_to_matrix(torch.tensor(rng.normal(0, 1, 3))).numpy()
        t = rng.normal(0, 0.5, 3)
        v_world, _, _ = models.forward(side, go, theta, betas, transl)
        go_c, tr_c = mano_world_to_camera(go, transl, R, t, models.rest_root(side, betas))
        v_cam, _, _ = models.forward(side, go_c, theta, betas, tr_c)
        np.testing.assert_allclose(v_cam, v_world @ R.T + t, atol=1e-10)


def test_mano_models_sources(monkeypatch, tmp_path):
    assert not ManoModels(None).any
    monkeypatch.setenv("HANDPOSE_MANO_DIR", str(tmp_path))  # no MANO files there
    assert not ManoModels("auto").any
    with pytest.raises(HandposeError):
        ManoModels(tmp_path)  # an explicit folder without MANO files is an error
    m = ManoModels(mano_models())
    assert m.available("right") and m.available("left")
    np.testing.assert_array_equal(m.hands_mean("left"), mano_models()["left"].hands_mean)
    with pytest.raises(HandposeError, match="no right MANO model"):
        ManoModels({"left": mano_models()["left"]}).model("right")
