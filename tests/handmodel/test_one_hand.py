"""The NumPy one-hand path (handpose/handmodel/one_hand.py): the torch path's numbers, and taken
exactly when nothing needs a gradient and nobody watches the torch operators."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from handpose.handmodel import HandModel
from handpose.handmodel.lbs import LEVEL_MAJOR, batch_rodrigues
from handpose.handmodel.one_hand import forward_one, one_hand_arrays

from .mano_fixtures import needs_open_asset, random_model_data
from .naive_lbs import naive_lbs

f64 = torch.float64


@pytest.fixture(scope="module")
def mano_like():
    return random_model_data(0)  # V = 778, 10 betas, non-zero pose correctives


def _inputs(seed, dtype, scale=0.7):
    g = torch.Generator().manual_seed(seed)
    return dict(
        global_orient=torch.randn(1, 3, generator=g, dtype=f64).to(dtype),
        hand_pose=(scale * torch.randn(1, 45, generator=g, dtype=f64)).to(dtype),
        betas=torch.randn(1, 10, generator=g, dtype=f64).to(dtype),
        transl=(0.1 * torch.randn(1, 3, generator=g, dtype=f64)).to(dtype),
    )


class _Spy:
    """Counts calls of HandModel._forward_one_numpy (the NumPy path) on one model."""

    def __init__(self, model, monkeypatch):
        self.calls = 0
        inner = model._forward_one_numpy

        def wrapped(*a, **k):
            self.calls += 1
            return inner(*a, **k)

        monkeypatch.setattr(model, "_forward_one_numpy", wrapped)


def _torch_model(model):
    """The same model with the NumPy path off (an instance attribute, the class keeps it)."""
    model.numpy_inference = False
    return model


@pytest.mark.parametrize("dtype", [torch.float32, f64])
@pytest.mark.parametrize(
    "option", ["plain", "no_betas", "fewer_betas", "zero_betas", "no_transl", "pca", "not_flat"]
)
def test_numpy_path_equals_torch_path(mano_like, dtype, option, monkeypatch):
    kw = dict(
        dtype=dtype,
        num_pca_comps=9 if option == "pca" else None,
        flat_hand_mean=option != "not_flat",
    )
    fast, slow = HandModel(mano_like, **kw), _torch_model(HandModel(mano_like, **kw))
    spy = _Spy(fast, monkeypatch)
    p = _inputs(1, dtype)
    if option == "pca":
        p["hand_pose"] = p["hand_pose"][:, :9]
    if option == "no_betas":
        del p["betas"]
    if option == "fewer_betas":
        p["betas"] = p["betas"][:, :3]
    if option == "zero_betas":
        p["betas"] = p["betas"][:, :0]
    if option == "no_transl":
        del p["transl"]
    tol = 2e-6 if dtype == torch.float32 else 1e-12
    for rv in (True, False):
        a, b = fast(**p, return_vertices=rv), slow(**p, return_vertices=rv)
        for name in ("vertices", "joints", "joints21", "global_rotations"):
            x, y = getattr(a, name), getattr(b, name)
            if y is None:
                assert x is None
                continue
            assert x.shape == y.shape and x.dtype == dtype and not x.requires_grad
            torch.testing.assert_close(x, y, atol=tol, rtol=0)
        assert a.joints.is_contiguous() and a.joints21.is_contiguous()
    assert spy.calls == 2


def test_numpy_path_against_naive_mano(mano_like):
    """Against the textbook MANO forward (tests/handmodel/naive_lbs.py), not only the torch path."""
    model = HandModel(mano_like, dtype=f64)
    p = _inputs(2, f64)
    with torch.no_grad():
        out = model(**p)
    v, j, r = naive_lbs(
        mano_like, p["global_orient"][0], p["hand_pose"][0], p["betas"][0], p["transl"][0]
    )
    torch.testing.assert_close(out.vertices[0], v, atol=1e-9, rtol=0)
    torch.testing.assert_close(out.joints[0], j, atol=1e-9, rtol=0)
    torch.testing.assert_close(out.global_rotations[0], r, atol=1e-12, rtol=0)


@needs_open_asset
def test_numpy_path_open_model_without_correctives():
    fast, slow = HandModel("open", dtype=f64), _torch_model(HandModel("open", dtype=f64))
    assert not fast._has_posedirs
    p = _inputs(3, f64)
    for rv in (True, False):
        a, b = fast(**p, return_vertices=rv), slow(**p, return_vertices=rv)
        torch.testing.assert_close(a.joints21, b.joints21, atol=1e-12, rtol=0)
        if rv:
            torch.testing.assert_close(a.vertices, b.vertices, atol=1e-12, rtol=0)


def test_forward_one_rodrigues_at_zero_and_large_angles(mano_like):
    """θ = 0 (the floored sin x / x), tiny and beyond-π rotations give lbs.batch_rodrigues's
    matrices (the root's world rotation is its local rotation)."""
    model = HandModel(mano_like, dtype=f64)
    b = model._buffers
    arrays = one_hand_arrays(b["head_template"], b["head_basis"], b["head_weights_lm"], 10, True)
    for root in ([0.0, 0.0, 0.0], [1e-9, -2e-9, 0.0], [2.5, -2.0, 1.5]):
        aa = np.zeros((16, 3))
        aa[0] = root
        aa[1:] = np.random.default_rng(0).normal(0, 1.5, (15, 3))
        pts, rot = forward_one(aa, None, arrays)
        want = batch_rodrigues(torch.from_numpy(aa)).numpy()
        np.testing.assert_allclose(rot[0], want[0], atol=1e-14)
        assert np.isfinite(pts).all()
        # the first level's world rotation is root · local (MANO joint 1 is level-major 1)
        np.testing.assert_allclose(rot[1], want[0] @ want[1], atol=1e-13)
    assert LEVEL_MAJOR[1] == 1


def test_gradient_needed_takes_torch_path(mano_like, monkeypatch):
    model = HandModel(mano_like, dtype=f64)
    spy = _Spy(model, monkeypatch)
    p = _inputs(4, f64)
    p["hand_pose"].requires_grad_()
    out = model(**p)
    assert spy.calls == 0 and out.vertices.requires_grad
    out.joints21.sum().backward()
    assert p["hand_pose"].grad is not None and p["hand_pose"].grad.abs().sum() > 0
    with torch.no_grad():  # no graph is recorded anyway: NumPy, from the detached input
        nograd = model(**p)
    assert spy.calls == 1 and not nograd.vertices.requires_grad
    torch.testing.assert_close(nograd.vertices, out.vertices.detach(), atol=1e-12, rtol=0)


def test_functorch_transform_takes_torch_path(mano_like):
    model = HandModel(mano_like, dtype=f64)
    p = _inputs(5, f64)

    def tip(hp):
        return model(global_orient=p["global_orient"], hand_pose=hp, betas=p["betas"]).joints21[
            0, 4
        ]

    jac = torch.func.jacrev(tip)(p["hand_pose"])
    eps = 1e-6
    e = torch.zeros_like(p["hand_pose"])
    e[0, 7] = eps
    fd = (tip(p["hand_pose"] + e) - tip(p["hand_pose"] - e)) / (2 * eps)
    torch.testing.assert_close(jac[:, 0, 7], fd, atol=1e-7, rtol=0)


def test_dispatch_mode_sees_the_operators(mano_like, monkeypatch):
    """A dispatch mode (FLOP counters, op counting) is shown the torch operators."""
    model = HandModel(mano_like)
    spy = _Spy(model, monkeypatch)
    seen = []

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func)
            return func(*args, **(kwargs or {}))

    p = _inputs(6, torch.float32)
    with torch.no_grad(), Count():
        model(**p)
    assert spy.calls == 0 and len(seen) > 20
    with torch.no_grad():
        model(**p)
    assert spy.calls == 1


def test_dtype_change_rebuilds_the_numpy_arrays(mano_like):
    """After ``model.double()`` the NumPy path runs on the float64 buffers (the float32 arrays
    cached by an earlier call are not reused), and back after ``model.float()``."""
    model = HandModel(mano_like)
    p32, p64 = _inputs(7, torch.float32), _inputs(7, f64)
    with torch.no_grad():
        a = model(**p32)
        model.double()
        b = model(**p64)
        model.numpy_inference = False
        ref = model(**p64)
        model.numpy_inference = True
        model.float()
        c = model(**p32)
    assert b.vertices.dtype == f64 and c.vertices.dtype == torch.float32
    torch.testing.assert_close(b.vertices, ref.vertices, atol=1e-12, rtol=0)
    torch.testing.assert_close(a.vertices, c.vertices, atol=0, rtol=0)
    torch.testing.assert_close(a.vertices.double(), ref.vertices, atol=2e-6, rtol=0)


def test_calls_do_not_share_memory(mano_like):
    """Each call returns fresh arrays: a later call never overwrites an earlier result."""
    model = HandModel(mano_like)
    p, q = _inputs(8, torch.float32), _inputs(9, torch.float32)
    with torch.no_grad():
        a = model(**p)
        before = a.vertices.clone()
        model(**q)
    torch.testing.assert_close(a.vertices, before, atol=0, rtol=0)


def test_trace_takes_torch_path(mano_like):
    model = HandModel(mano_like)
    p = _inputs(10, torch.float32)

    def call(go, hp):
        return model(global_orient=go, hand_pose=hp).joints21

    traced = torch.jit.trace(call, (p["global_orient"], p["hand_pose"]), check_trace=False)
    assert any(n.kind() == "aten::addmm" for n in traced.graph.nodes())
    q = _inputs(11, torch.float32)
    torch.testing.assert_close(
        traced(q["global_orient"], q["hand_pose"]), call(q["global_orient"], q["hand_pose"])
    )
