"""HandModel: against the naive reference, its input forms, options, and convention pins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.handmodel import HandModel, HandModelData, load_hand_model_data
from handpose.handmodel.conventions import (
    MANO_TO_OPENPOSE,
    OPENPOSE_JOINT_NAMES,
    OPENPOSE_TIPS,
    TIP_PRESETS,
)
from handpose.handmodel.data import mirror_hand_model_data
from handpose.handmodel.lbs import batch_rodrigues

from .mano_fixtures import (
    MANO_PARENTS,
    needs_open_asset,
    random_mano_arrays,
    random_model_data,
)
from .naive_lbs import naive_lbs

f64 = torch.float64


@pytest.fixture(scope="module")
def mano_like():
    """A random model with MANO's exact sizes (V = 778, 10 betas, 135 pose features)."""
    return random_model_data(0)


@pytest.fixture(scope="module")
def small():
    return random_model_data(3, V=60, F=30)


def _params(seed, batch=(), scale=0.6):
    g = torch.Generator().manual_seed(seed)
    return dict(
        global_orient=torch.randn(batch + (3,), generator=g, dtype=f64),
        hand_pose=scale * torch.randn(batch + (45,), generator=g, dtype=f64),
        betas=torch.randn(batch + (10,), generator=g, dtype=f64),
        transl=0.1 * torch.randn(batch + (3,), generator=g, dtype=f64),
    )


def _check_against_naive(data, model, params, flat=True):
    out = model(**params)
    n = params["hand_pose"].shape[0]
    for b in range(n):
        v, j, r = naive_lbs(
            data,
            params["global_orient"][b],
            params["hand_pose"][b],
            params["betas"][b],
            params["transl"][b],
            flat_hand_mean=flat,
        )
        torch.testing.assert_close(out.vertices[b], v, atol=1e-9, rtol=0)
        torch.testing.assert_close(out.joints[b], j, atol=1e-9, rtol=0)
        torch.testing.assert_close(out.global_rotations[b], r, atol=1e-12, rtol=0)
        tips = v[list(model.tip_ids.tolist())]
        ref21 = torch.cat([j, tips])[list(MANO_TO_OPENPOSE)]
        torch.testing.assert_close(out.joints21[b], ref21, atol=1e-9, rtol=0)
    return out


# ----------------------------------------------------------------------------- exactness
def test_matches_naive_reference_mano_sized_float64(mano_like):
    model = HandModel(mano_like, dtype=f64)
    assert model.num_vertices == 778 and tuple(model.faces.shape) == (1538, 3)
    _check_against_naive(mano_like, model, _params(0, (2,)))


def test_matches_naive_reference_not_flat(small):
    model = HandModel(small, dtype=f64, flat_hand_mean=False)
    _check_against_naive(small, model, _params(1, (2,)), flat=False)


def test_chunked_large_batch_equals_single_calls(small):
    model = HandModel(small, dtype=f64)
    p = _params(2, (model.chunk_size * 2 + 3,))
    out = model(**p)
    for b in (0, model.chunk_size, model.chunk_size * 2 + 2):
        one = model(**{k: v[b : b + 1] for k, v in p.items()})
        torch.testing.assert_close(out.vertices[b], one.vertices[0], atol=1e-12, rtol=0)
        torch.testing.assert_close(out.joints21[b], one.joints21[0], atol=1e-12, rtol=0)


def test_trace_above_chunk_size_takes_single_pass_and_generalises(small, monkeypatch):
    """A trace recorded with more than chunk_size hands skins them in one pass (the chunk loop
    would bake batch-dependent bounds into the graph), and the graph gives the eager numbers for
    another batch size."""
    import handpose.handmodel.layer as layer

    model = HandModel(small, dtype=f64)
    model.chunk_size = 4
    calls = []
    skin = layer.skin_batch_last
    monkeypatch.setattr(layer, "skin_batch_last", lambda *a: calls.append(1) or skin(*a))

    def joints_and_vertices(pose, orient, betas):
        out = model(global_orient=orient, hand_pose=pose, betas=betas)
        return out.joints21, out.vertices

    args = tuple(_params(5, (9,))[k] for k in ("hand_pose", "global_orient", "betas"))
    with torch.no_grad():
        joints_and_vertices(*args)
        assert len(calls) == 3  # eager: chunks of 4, 4, 1
        calls.clear()
        traced = torch.jit.trace(joints_and_vertices, args, check_trace=False)
        assert len(calls) == 1
        args15 = tuple(_params(6, (15,))[k] for k in ("hand_pose", "global_orient", "betas"))
        for got, want in zip(traced(*args15), joints_and_vertices(*args15), strict=True):
            torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("chunk", [4, 64])  # chunked loop / one batch-last pass
@pytest.mark.parametrize("correctives", [True, False])
@pytest.mark.parametrize("with_betas", [True, False])
def test_batch_last_layout_values_and_gradients_equal_plain_layout(chunk, correctives, with_betas):
    arrays = random_mano_arrays(3, V=60, F=30)
    if not correctives:
        arrays["posedirs"] = np.zeros_like(arrays["posedirs"])
    data = HandModelData.from_arrays(arrays, side="right", name="t", tip_ids=range(55, 60))
    plain = HandModel(data, dtype=f64)
    plain.batch_last_from = 10**9
    fast = HandModel(data, dtype=f64)
    fast.batch_last_from, fast.chunk_size = 1, chunk
    p = _params(14, (10,))
    if not with_betas:
        del p["betas"]
    p = {k: v.requires_grad_() for k, v in p.items()}
    w = torch.randn(10, 60, 3, dtype=f64)
    grads, outs = [], []
    for model in (plain, fast):
        out = model(**p)
        loss = (out.vertices * w).sum() + out.joints21.square().sum()
        grads.append(torch.autograd.grad(loss, list(p.values())))
        outs.append(out)
    torch.testing.assert_close(outs[1].vertices, outs[0].vertices, atol=1e-12, rtol=0)
    torch.testing.assert_close(outs[1].joints, outs[0].joints, atol=1e-12, rtol=0)
    assert outs[1].vertices.reshape(-1).shape == (10 * 60 * 3,)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@needs_open_asset
def test_open_asset_matches_naive_reference():
    data = load_hand_model_data("open", "right")
    model = HandModel("open", dtype=f64)
    _check_against_naive(data, model, _params(3, (1,)))


def test_gradcheck_float64(small):
    tiny = random_model_data(7, V=14, F=6)
    model = HandModel(tiny, dtype=f64)
    g = torch.Generator().manual_seed(0)
    proj_v = torch.randn(14, 3, generator=g, dtype=f64)
    proj_j = torch.randn(21, 3, generator=g, dtype=f64)

    def f(go, hp, betas, transl):
        out = model(global_orient=go, hand_pose=hp, betas=betas, transl=transl)
        return (out.vertices * proj_v).sum(), (out.joints21 * proj_j).sum(), out.joints[0]

    p = _params(5, (), scale=0.5)
    args = tuple(
        p[k].clone().requires_grad_() for k in ("global_orient", "hand_pose", "betas", "transl")
    )
    assert torch.autograd.gradcheck(f, args)
    # At the flat hand (ω = 0 exactly) too (fast mode: random projections of the Jacobian).
    args = (
        torch.zeros(3, dtype=f64, requires_grad=True),
        torch.zeros(45, dtype=f64, requires_grad=True),
    ) + args[2:]
    assert torch.autograd.gradcheck(f, args, fast_mode=True)


# ----------------------------------------------------------------------------- fast paths
@pytest.mark.parametrize("n", [3, 20, 70])  # plain, one batch-last pass, chunked
def test_joints_only_path_equals_full_path(small, n):
    model = HandModel(small, dtype=f64)
    p = _params(6, (n,))
    full = model(**p)
    jo = model(**p, return_vertices=False)
    assert jo.vertices is None
    torch.testing.assert_close(jo.joints, full.joints, atol=1e-12, rtol=0)
    torch.testing.assert_close(jo.joints21, full.joints21, atol=1e-12, rtol=0)
    torch.testing.assert_close(jo.global_rotations, full.global_rotations)


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize(
    "option", ["plain", "no_betas", "fewer_betas", "no_transl", "pca", "not_flat", "float32"]
)
def test_small_batch_fast_call_equals_general_path(small, n, option):
    """(N, 3) + (N, 45) inputs with small N take HandModel._forward_small; the same inputs with
    an extra leading dim take the general path."""
    dtype = torch.float32 if option == "float32" else f64
    model = HandModel(
        small,
        dtype=dtype,
        num_pca_comps=12 if option == "pca" else None,
        flat_hand_mean=option != "not_flat",
    )
    p = {k: v.to(dtype) for k, v in _params(8, (n,)).items()}
    if option == "pca":
        p["hand_pose"] = p["hand_pose"][:, :12]
    if option == "no_betas":
        del p["betas"]
    if option == "fewer_betas":
        p["betas"] = p["betas"][:, :4]
    if option == "no_transl":
        del p["transl"]
    for rv in (True, False):
        args = (p["global_orient"], p["hand_pose"], p.get("betas"), p.get("transl"), rv)
        assert model._forward_small(*args) is not None  # the fast call is taken
        fast = model(**p, return_vertices=rv)
        general = model(**{k: v[None] for k, v in p.items()}, return_vertices=rv)
        for name in ("vertices", "joints", "joints21", "global_rotations"):
            a, b = getattr(fast, name), getattr(general, name)
            if a is None:
                assert b is None and name == "vertices" and not rv
                continue
            assert a.shape == b.shape[1:] and a.dtype == dtype
            tol = 1e-5 if dtype == torch.float32 else 1e-12
            torch.testing.assert_close(a, b[0], atol=tol, rtol=0)


def test_small_batch_fast_call_gradcheck():
    tiny = random_model_data(9, V=14, F=6)
    model = HandModel(tiny, dtype=f64)
    g = torch.Generator().manual_seed(1)
    proj_v = torch.randn(1, 14, 3, generator=g, dtype=f64)
    proj_j = torch.randn(1, 21, 3, generator=g, dtype=f64)

    def f(go, hp, betas, transl):
        out = model(global_orient=go, hand_pose=hp, betas=betas, transl=transl)
        jo = model(global_orient=go, hand_pose=hp, betas=betas, return_vertices=False)
        return (out.vertices * proj_v).sum(), (jo.joints21 * proj_j).sum(), out.global_rotations

    p = _params(9, (1,), scale=0.5)
    args = tuple(
        p[k].clone().requires_grad_() for k in ("global_orient", "hand_pose", "betas", "transl")
    )
    assert torch.autograd.gradcheck(f, args)


def test_vertex_subset_equals_full_vertices(small):
    model = HandModel(small, dtype=f64)
    p = _params(7, (2,))
    ids = torch.tensor([0, 5, 17, 59, 5])
    full = model(**p, vertex_ids=ids)
    sub = model(**p, return_vertices=False, vertex_ids=ids)
    torch.testing.assert_close(full.selected_vertices, full.vertices[:, ids])
    torch.testing.assert_close(sub.selected_vertices, full.vertices[:, ids], atol=1e-12, rtol=0)
    torch.testing.assert_close(sub.joints21, full.joints21, atol=1e-12, rtol=0)
    with pytest.raises(HandposeError):
        model(**p, vertex_ids=[60])


# ----------------------------------------------------------------------------- input forms
def test_pca_path_equals_axis_angle_path(small):
    for flat in (True, False):
        aa_model = HandModel(small, dtype=f64, flat_hand_mean=flat)
        for k in (3, 45):
            pca_model = HandModel(small, dtype=f64, flat_hand_mean=flat, num_pca_comps=k)
            c = torch.randn(2, k, dtype=f64)
            aa = c @ torch.as_tensor(small.hands_components[:k], dtype=f64)
            torch.testing.assert_close(
                pca_model(hand_pose=c).vertices, aa_model(hand_pose=aa).vertices
            )
    with pytest.raises(HandposeError):
        HandModel(small, num_pca_comps=46)
    with pytest.raises(HandposeError):
        HandModel(small, num_pca_comps=6)(hand_pose=torch.zeros(1, 45))


def test_flat_hand_mean_semantics(small):
    flat = HandModel(small, dtype=f64, flat_hand_mean=True)
    nonflat = HandModel(small, dtype=f64, flat_hand_mean=False)
    mean = torch.as_tensor(small.hands_mean, dtype=f64)
    theta = 0.4 * torch.randn(3, 45, dtype=f64)
    # θ_flat = θ_nonflat + hands_mean
    torch.testing.assert_close(
        flat(hand_pose=theta + mean).vertices, nonflat(hand_pose=theta).vertices
    )
    # Zero / missing articulation: the flat hand vs the mean pose.
    torch.testing.assert_close(flat().vertices, flat(hand_pose=torch.zeros(45, dtype=f64)).vertices)
    torch.testing.assert_close(nonflat().vertices, flat(hand_pose=mean).vertices)


def test_rotmat_inputs_equal_axis_angle_inputs(small):
    model = HandModel(small, dtype=f64)
    p = _params(8, (2,))
    aa = model(**p)
    R_hand = batch_rodrigues(p["hand_pose"].view(2, 15, 3))
    R_glob = batch_rodrigues(p["global_orient"])
    rm = model(global_orient=R_glob, hand_pose=R_hand, betas=p["betas"], transl=p["transl"])
    torch.testing.assert_close(rm.vertices, aa.vertices)
    mixed = model(
        global_orient=R_glob,
        hand_pose=p["hand_pose"].view(2, 15, 3),
        betas=p["betas"],
        transl=p["transl"],
    )
    torch.testing.assert_close(mixed.vertices, aa.vertices)
    # (3, 3) axis-angle batch of 3 vs a single rotation matrix: resolved by hand_pose's batch.
    go3 = 0.3 * torch.randn(3, 3, dtype=f64)
    out = model(global_orient=go3, hand_pose=torch.zeros(3, 45, dtype=f64))
    assert out.vertices.shape[0] == 3
    torch.testing.assert_close(out.global_rotations[:, 0], batch_rodrigues(go3))


def test_leading_batch_dims_and_broadcasting(small):
    model = HandModel(small, dtype=f64)
    p = _params(9, (2, 3))
    out = model(**p)
    assert out.vertices.shape == (2, 3, 60, 3)
    assert out.joints.shape == (2, 3, 16, 3) and out.joints21.shape == (2, 3, 21, 3)
    assert out.global_rotations.shape == (2, 3, 16, 3, 3)
    assert out.global_transforms.shape == (2, 3, 16, 4, 4)
    flat = model(**{k: v.reshape(6, -1) for k, v in p.items()})
    torch.testing.assert_close(out.vertices.reshape(6, 60, 3), flat.vertices)
    # Shared betas broadcast against a batch of poses; no batch at all gives unbatched outputs.
    shared = model(hand_pose=p["hand_pose"], betas=p["betas"][0, 0])
    torch.testing.assert_close(
        shared.vertices[1, 2],
        model(hand_pose=p["hand_pose"][1, 2], betas=p["betas"][0, 0]).vertices,
    )
    assert model().vertices.shape == (60, 3)
    assert model(betas=torch.zeros(4, 10, dtype=f64)).vertices.shape == (4, 60, 3)


def test_fewer_betas_and_numpy_inputs(small):
    model = HandModel(small, dtype=f64)
    b3 = torch.randn(2, 3, dtype=f64)
    padded = torch.cat([b3, torch.zeros(2, 7, dtype=f64)], 1)
    torch.testing.assert_close(model(betas=b3).vertices, model(betas=padded).vertices)
    out = model(hand_pose=np.zeros((1, 45)), betas=np.zeros((1, 10)))
    assert out.vertices.dtype == f64
    with pytest.raises(HandposeError):
        model(betas=torch.zeros(1, 11))
    with pytest.raises(HandposeError):
        model(hand_pose=torch.zeros(1, 44))
    with pytest.raises(HandposeError):
        model(transl=torch.zeros(1, 2))
    with pytest.raises(HandposeError):
        model(betas=torch.zeros(1, 10, dtype=torch.long))


def test_float32_and_float64_agree(small):
    m32 = HandModel(small, dtype=torch.float32)
    m64 = HandModel(small, dtype=f64)
    p = _params(10, (4,))
    o32 = m32(**p)  # float64 inputs are converted to the model's dtype
    assert o32.vertices.dtype == torch.float32
    torch.testing.assert_close(o32.vertices.double(), m64(**p).vertices, atol=2e-6, rtol=0)
    m32.to(f64)
    assert m32(**p).vertices.dtype == f64
    with pytest.raises(HandposeError):
        HandModel(small, dtype=torch.float16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(small):
    model = HandModel(small, dtype=f64)
    p = _params(11, (3,))
    cpu = model(**p)
    gpu = model.to("cuda")(**{k: v.cuda() for k, v in p.items()})
    torch.testing.assert_close(gpu.vertices.cpu(), cpu.vertices)


def test_no_model_arrays_in_state_dict(small):
    assert HandModel(small).state_dict() == {}


# ----------------------------------------------------------------------------- mirroring
def test_left_is_mirror_of_right_under_mirrored_pose():
    right = random_model_data(12, V=60, F=30)
    left = mirror_hand_model_data(right)
    mr, ml = HandModel(right, dtype=f64), HandModel(left, dtype=f64)
    assert ml.side == "left"
    p = _params(12, (3,))
    flip = torch.tensor([1.0, -1.0, -1.0], dtype=f64)  # M R(ω) M = R(−Mω): negate y, z
    M = torch.tensor([-1.0, 1.0, 1.0], dtype=f64)
    q = dict(
        global_orient=p["global_orient"] * flip,
        hand_pose=(p["hand_pose"].view(3, 15, 3) * flip).view(3, 45),
        betas=p["betas"],
        transl=p["transl"] * M,
    )
    o_r, o_l = mr(**p), ml(**q)
    torch.testing.assert_close(o_l.vertices, o_r.vertices * M, atol=1e-12, rtol=0)
    torch.testing.assert_close(o_l.joints21, o_r.joints21 * M, atol=1e-12, rtol=0)
    # PCA coefficients and the mean pose mirror too.
    for flat in (True, False):
        pr = HandModel(right, dtype=f64, num_pca_comps=5, flat_hand_mean=flat)
        pl = HandModel(left, dtype=f64, num_pca_comps=5, flat_hand_mean=flat)
        c = torch.randn(2, 5, dtype=f64)
        torch.testing.assert_close(pl(hand_pose=c).vertices, pr(hand_pose=c).vertices * M)


@needs_open_asset
def test_open_left_hand_is_mirrored_open_right_hand():
    mr = HandModel("open", side="right", dtype=f64)
    ml = HandModel("open", side="left", dtype=f64)
    p = _params(13, (2,), scale=0.3)
    flip = torch.tensor([1.0, -1.0, -1.0], dtype=f64)
    M = torch.tensor([-1.0, 1.0, 1.0], dtype=f64)
    o_l = ml(
        global_orient=p["global_orient"] * flip,
        hand_pose=(p["hand_pose"].view(2, 15, 3) * flip).view(2, 45),
        betas=p["betas"],
    )
    o_r = mr(global_orient=p["global_orient"], hand_pose=p["hand_pose"], betas=p["betas"])
    torch.testing.assert_close(o_l.vertices, o_r.vertices * M, atol=1e-12, rtol=0)
    # Reversed winding keeps normals pointing outwards after the reflection.
    assert torch.equal(ml.faces, mr.faces.flip(-1))


# ----------------------------------------------------------------------------- convention pins
def _pin_model() -> HandModelData:
    """Hand-built: joint k regresses exactly vertex 100 + k (at (k, 0, 0)); tips (smplx preset)
    sit at known coordinates; identity weights → at zero pose everything stays put."""
    arrays = random_mano_arrays(20)
    V = 778
    v = np.zeros((V, 3))
    v[100:116, 0] = np.arange(16)
    for m, vid in enumerate(TIP_PRESETS["smplx"]):
        v[vid] = (0.0, 100.0 + m, 0.0)
    arrays["v_template"] = v
    J = np.zeros((16, V))
    J[np.arange(16), 100 + np.arange(16)] = 1.0
    arrays["J_regressor"] = J
    return HandModelData.from_arrays(arrays, side="right", name="pin")


def test_openpose_reordering_pin():
    model = HandModel(_pin_model(), dtype=f64)
    out = model()
    # MANO order: joint k at x = k (wrist, index×3, middle×3, pinky×3, ring×3, thumb×3).
    torch.testing.assert_close(out.joints[:, 0], torch.arange(16, dtype=f64))
    x, y = out.joints21[:, 0], out.joints21[:, 1]
    name_to_mano = {
        "wrist": 0, "thumb_mcp": 13, "thumb_pip": 14, "thumb_dip": 15,
        "index_mcp": 1, "index_pip": 2, "index_dip": 3,
        "middle_mcp": 4, "middle_pip": 5, "middle_dip": 6,
        "ring_mcp": 10, "ring_pip": 11, "ring_dip": 12,
        "pinky_mcp": 7, "pinky_pip": 8, "pinky_dip": 9,
    }  # fmt: skip
    tip_to_finger = {"thumb_tip": 0, "index_tip": 1, "middle_tip": 2, "ring_tip": 3, "pinky_tip": 4}
    for i, name in enumerate(OPENPOSE_JOINT_NAMES):
        want = (name_to_mano[name], 0.0) if name in name_to_mano else (0, 100 + tip_to_finger[name])
        assert (float(x[i]), float(y[i])) == pytest.approx(want, abs=1e-12), name
    assert OPENPOSE_TIPS == (4, 8, 12, 16, 20)
    torch.testing.assert_close(out.tips[:, 1], 100.0 + torch.arange(5, dtype=f64))


def test_tip_presets_pin(mano_like):
    assert TIP_PRESETS["smplx"] == (744, 320, 443, 554, 671)
    assert TIP_PRESETS["freihand"] == (744, 320, 443, 555, 672)
    assert TIP_PRESETS["manopth"] == (745, 317, 444, 556, 673)
    assert TIP_PRESETS["manopth_left"] == (745, 317, 445, 556, 673)
    assert TIP_PRESETS["interhand"] == (745, 317, 445, 556, 673)
    # MANO-layout files default to smplx tips.
    m = HandModel(mano_like)
    assert m.tip_preset == "smplx" and tuple(m.tip_ids.tolist()) == TIP_PRESETS["smplx"]
    for name in ("freihand", "manopth", "interhand"):
        assert tuple(HandModel(mano_like, tip_preset=name).tip_ids.tolist()) == TIP_PRESETS[name]
    # manopth uses vertex 445 for the left middle tip.
    left = mirror_hand_model_data(mano_like)
    assert tuple(HandModel(left, tip_preset="manopth").tip_ids.tolist())[2] == 445
    custom = HandModel(mano_like, tip_preset=[1, 2, 3, 4, 5])
    assert custom.tip_preset == "custom"
    out = custom()
    torch.testing.assert_close(out.tips, out.vertices[[1, 2, 3, 4, 5]])
    with pytest.raises(HandposeError):
        HandModel(mano_like, tip_preset="nope")
    with pytest.raises(HandposeError):
        HandModel(random_model_data(1, V=60, F=10), tip_preset="smplx")


def test_units_are_metres_and_pivot_is_root_joint(mano_like):
    model = HandModel(mano_like, dtype=f64)
    out = model()
    # Zero pose and shape: exactly the template (metres, no ×1000 as in manopth).
    torch.testing.assert_close(out.vertices, torch.as_tensor(mano_like.v_template, dtype=f64))
    assert float(out.vertices.abs().max()) < 1.0
    # The global rotation pivots about J₀(β): the wrist does not move under global_orient.
    betas = torch.randn(10, dtype=f64)
    J0 = model.shaped_joints(betas)[0]
    rotated = model(global_orient=torch.tensor([0.3, -1.0, 2.0], dtype=f64), betas=betas)
    torch.testing.assert_close(rotated.joints[0], J0)
    t = torch.tensor([0.1, 0.2, 0.3], dtype=f64)
    torch.testing.assert_close(model(betas=betas, transl=t).joints[0], J0 + t)


@needs_open_asset
def test_open_hand_proportions_in_metres():
    out = HandModel("open")()
    j = out.joints21
    length = float((j[12] - j[0]).norm())  # wrist → middle fingertip
    assert 0.16 < length < 0.21
    assert MANO_PARENTS == tuple(HandModel("open").parents.tolist())


def test_mismatched_batch_dimensions_give_a_user_error():
    import torch

    from handpose.errors import HandposeError
    from handpose.handmodel import HandModel

    model = HandModel()
    with pytest.raises(HandposeError, match="do not broadcast"):
        model(hand_pose=torch.zeros(2, 5, 45), betas=torch.zeros(3, 10))
