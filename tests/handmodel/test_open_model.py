"""The open hand model asset: regeneration, mesh validity, anatomy, skinning, shape and pose spaces.

Geometry checks use small reference implementations kept here: the generalised winding number
(inside/outside), an edge–triangle intersection test (self-intersections) and a naive LBS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from handpose.handmodel import open_model as om
from handpose.handmodel.conventions import MANO_PARENTS

ASSET = Path(om.__file__).resolve().parents[1] / "assets" / "open_hand_right.npz"
MANO_NAMES = (
    "v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table",
    "hands_components", "hands_mean",
)  # fmt: skip
THUMB, INDEX, MIDDLE, RING, PINKY = range(5)  # tip_ids order


@pytest.fixture(scope="module")
def model() -> dict[str, np.ndarray]:
    with np.load(ASSET, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def rebuilt() -> dict[str, np.ndarray]:
    return om.build_open_hand()


# --- reference geometry ---------------------------------------------------------------------------
def winding_number(points: np.ndarray, v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Generalised winding number of points (N, 3) w.r.t. a closed mesh (Van Oosterom–Strackee):
    1 inside, 0 outside, for outward-oriented faces."""
    a = v[f[:, 0]][None] - points[:, None]
    b = v[f[:, 1]][None] - points[:, None]
    c = v[f[:, 2]][None] - points[:, None]
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    det = np.einsum("nfi,nfi->nf", a, np.cross(b, c))
    den = (
        la * lb * lc
        + np.einsum("nfi,nfi->nf", a, b) * lc
        + np.einsum("nfi,nfi->nf", b, c) * la
        + np.einsum("nfi,nfi->nf", c, a) * lb
    )
    return (2.0 * np.arctan2(det, den)).sum(1) / (4.0 * np.pi)


def self_intersections(v: np.ndarray, f: np.ndarray) -> int:
    """Number of (edge, triangle) pairs that cross, ignoring pairs that share a vertex."""
    edges = np.unique(np.sort(edges_of(f), 1), axis=0)
    p, q = v[edges[:, 0]], v[edges[:, 1]]
    t = v[f]
    elo, ehi = np.minimum(p, q), np.maximum(p, q)
    tlo, thi = t.min(1), t.max(1)
    hits = 0
    for s in range(0, len(edges), 512):
        sl = slice(s, s + 512)
        overlap = (elo[sl, None] <= thi[None]).all(-1) & (ehi[sl, None] >= tlo[None]).all(-1)
        ei, fi = np.nonzero(overlap)
        ei = ei + s
        shared = (edges[ei][:, :, None] == f[fi][:, None, :]).any((1, 2))
        ei, fi = ei[~shared], fi[~shared]
        # Möller–Trumbore for the segment p + u (q − p), u ∈ [0, 1].
        o, d = p[ei], q[ei] - p[ei]
        v0, e1, e2 = t[fi, 0], t[fi, 1] - t[fi, 0], t[fi, 2] - t[fi, 0]
        h = np.cross(d, e2)
        det = np.einsum("ni,ni->n", e1, h)
        ok = np.abs(det) > 1e-18
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        sv = o - v0
        bu = np.einsum("ni,ni->n", sv, h) * inv
        qv = np.cross(sv, e1)
        bv = np.einsum("ni,ni->n", d, qv) * inv
        tu = np.einsum("ni,ni->n", e2, qv) * inv
        hit = ok & (bu >= 0) & (bv >= 0) & (bu + bv <= 1) & (tu >= 0) & (tu <= 1)
        hits += int(hit.sum())
    return hits


def naive_lbs(m: dict, pose45: np.ndarray, betas: np.ndarray | None = None) -> np.ndarray:
    """Vertices (V, 3) of the model posed with full-articulation axis-angles (root fixed)."""
    v = m["v_template"] + (0.0 if betas is None else m["shapedirs"] @ betas)
    J = m["J_regressor"] @ v
    aa = np.concatenate([np.zeros(3), pose45]).reshape(16, 3)
    G = np.zeros((16, 4, 4))
    for j in range(16):
        th = np.linalg.norm(aa[j])
        R = np.eye(3)
        if th > 0:
            k = aa[j] / th
            K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
            R = np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K
        L = np.eye(4)
        L[:3, :3] = R
        par = MANO_PARENTS[j]
        L[:3, 3] = J[j] - (J[par] if par >= 0 else 0.0)
        G[j] = L if par < 0 else G[par] @ L
    out = np.zeros_like(v)
    for j in range(16):
        Rj, tj = G[j, :3, :3], G[j, :3, 3] - G[j, :3, :3] @ J[j]
        out += m["weights"][:, j : j + 1] * (v @ Rj.T + tj)
    return out


def edges_of(f: np.ndarray) -> np.ndarray:
    return np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])


def hand_length(v: np.ndarray, joints: np.ndarray, tip_ids: np.ndarray) -> float:
    return float(np.linalg.norm(v[tip_ids[MIDDLE]] - joints[0]))


# --- the asset ------------------------------------------------------------------------------------
def test_regenerating_gives_the_committed_asset(model, rebuilt):
    assert set(rebuilt) == set(model)
    for key, value in rebuilt.items():
        ref = model[key]
        assert value.shape == ref.shape, key
        assert value.dtype == ref.dtype, key
        if value.dtype.kind == "f":
            # Tight, but above the last-bits differences of another BLAS/LAPACK build.
            np.testing.assert_allclose(value, ref, rtol=1e-6, atol=1e-8, err_msg=key)
        else:
            np.testing.assert_array_equal(value, ref, err_msg=key)


def test_asset_is_small_plain_and_mano_shaped(model):
    assert ASSET.stat().st_size < 1_000_000
    V = len(model["v_template"])
    assert all(model[k].dtype != object for k in model)
    for k in MANO_NAMES:
        assert k in model, k
    assert model["shapedirs"].shape == (V, 3, 10)
    assert model["posedirs"].shape == (V, 3, 135)
    assert not model["posedirs"].any()  # documented: no pose correctives
    assert model["J_regressor"].shape == (16, V)
    assert model["weights"].shape == (V, 16)
    assert model["hands_components"].shape == (45, 45)
    assert model["hands_mean"].shape == (45,)
    assert model["kintree_table"].tolist() == [
        [om.KINTREE_ROOT, *MANO_PARENTS[1:]],
        list(range(16)),
    ]
    assert str(model["version"]) == om.OPEN_HAND_VERSION
    assert "-x" in str(model["description"])


# --- the mesh -------------------------------------------------------------------------------------
def test_vertex_and_face_counts(model):
    V, F = len(model["v_template"]), len(model["f"])
    assert 700 <= V <= 1600
    assert F == 2 * V - 4  # closed genus-0 triangle mesh: V − E + F = 2 with E = 3F/2


def test_mesh_is_closed_consistently_oriented_and_connected(model):
    v, f = model["v_template"], model["f"].astype(np.int64)
    directed = edges_of(f)
    # Each directed edge once, and its reverse present: every edge shared by exactly 2 faces
    # that traverse it in opposite directions.
    keys = directed[:, 0] * len(v) + directed[:, 1]
    assert len(np.unique(keys)) == len(keys)
    assert np.isin(directed[:, 1] * len(v) + directed[:, 0], keys).all()
    assert len(np.unique(f)) == len(v)  # no unused vertices
    adj = coo_matrix((np.ones(len(directed)), (directed[:, 0], directed[:, 1])), (len(v),) * 2)
    assert connected_components(adj, directed=False)[0] == 1
    tri = v[f]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    assert area.min() > 1e-7  # no degenerate triangles (0.1 mm²)
    assert om.signed_volume(v, f) > 0.0


def test_face_normals_point_outwards(model):
    v, f = model["v_template"], model["f"]
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    c = tri.mean(1)
    pick = np.random.default_rng(0).choice(len(f), 300, replace=False)
    outside = winding_number(c[pick] + 5e-4 * n[pick], v, f)
    inside = winding_number(c[pick] - 5e-4 * n[pick], v, f)
    np.testing.assert_allclose(outside, 0.0, atol=0.05)
    np.testing.assert_allclose(inside, 1.0, atol=0.05)


def test_rest_mesh_has_no_self_intersections(model):
    assert self_intersections(model["v_template"], model["f"].astype(np.int64)) == 0


def test_self_intersection_check_detects_a_crossing():
    # Two triangles piercing each other: the reference check must see it.
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.2, 0.2, -1], [0.3, 0.2, 1], [0.2, 0.3, 1.0]])
    assert self_intersections(v, np.array([[0, 1, 2], [3, 4, 5]])) > 0


# --- anatomy ---------------------------------------------------------------------------------------
def test_frame_and_proportions(model):
    v, J, tips = model["v_template"], model["J"], model["tip_ids"]
    np.testing.assert_allclose(J[0], 0.0, atol=1e-12)  # wrist joint at the origin
    assert 0.18 <= hand_length(v, J, tips) <= 0.19
    # Fingers along −x, thumb towards +z, back of the hand +y (palm faces −y).
    assert np.all(v[tips[1:], 0] < -0.14)
    assert v[tips[THUMB], 2] > v[tips[INDEX], 2] > v[tips[PINKY], 2]
    back = v[model["back_vertex_id"]]
    assert back[1] > 0.008
    # Palm breadth across the knuckles (thumb excluded): about 8 cm.
    mcp_level = -J[[1, 4, 7, 10], 0].mean()
    not_thumb = model["weights"][:, 13:16].sum(1) < 0.5
    band = not_thumb & (np.abs(-v[:, 0] - mcp_level) < 0.004)
    width = np.ptp(v[band, 2])
    assert 0.075 <= width <= 0.085
    # Digit lengths, MCP (CMC for the thumb) to tip: middle > ring > index > pinky.
    seg = {
        n: np.linalg.norm(v[tips[i]] - J[om.DIGIT_JOINTS[n][0]]) for i, n in enumerate(om.TIP_ORDER)
    }
    assert seg["middle"] > seg["ring"] > seg["index"] > seg["pinky"]
    assert 0.085 <= seg["middle"] <= 0.105 and 0.06 <= seg["pinky"] <= 0.08


def test_joint_centres_are_inside_the_mesh(model):
    w = winding_number(model["J_regressor"] @ model["v_template"], model["v_template"], model["f"])
    np.testing.assert_allclose(w, 1.0, atol=1e-6)


def test_tip_ids_are_the_fingertip_extremities(model):
    v, W = model["v_template"], model["weights"]
    skel = om.template_skeleton()
    for i, name in enumerate(om.TIP_ORDER):
        last = om.DIGIT_JOINTS[name][2]
        own = W[:, last] > 0.5
        d = skel.dirs[name][2]
        assert own[model["tip_ids"][i]]
        assert v[model["tip_ids"][i]] @ d == pytest.approx((v[own] @ d).max())
        # The nail-side vertex sits on the distal phalanx, on the nail side of its axis.
        k = model["dorsal_tip_ids"][i]
        assert W[k, last] > 0.9
        assert (v[k] - skel.chain[name][2]) @ skel.nails[name][2] > 0.5 * skel.radii[name][2]
    np.testing.assert_array_equal(
        model["sensor_vertex_ids"],
        [*model["dorsal_tip_ids"], model["back_vertex_id"], model["wrist_vertex_id"]],
    )


def test_back_and_wrist_vertices(model):
    v = model["v_template"]
    back, wrist = v[model["back_vertex_id"]], v[model["wrist_vertex_id"]]
    middle_mcp = model["J"][4]
    assert 0.3 < back[0] / middle_mcp[0] < 0.7 and abs(back[2] - middle_mcp[2]) < 0.01
    assert back[1] > 0.0 and wrist[1] > 0.0  # dorsal
    assert abs(wrist[0]) < 0.01  # at the wrist joint's level
    assert model["weights"][model["wrist_vertex_id"], 0] > 0.99


# --- skinning --------------------------------------------------------------------------------------
def test_weights_are_a_partition_of_unity_dominated_by_their_bone(model):
    W, v = model["weights"], model["v_template"]
    assert W.min() >= 0.0
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-12)
    skel = om.template_skeleton()
    dist = {name: om._chain_coordinates(v, skel.chain[name]) for name in om.DIGITS}
    for name in om.DIGITS:
        s, d = dist[name]
        # Vertices clearly on this digit (not on a web shared with a neighbour).
        own = d < 0.6 * np.min([dist[o][1] for o in om.DIGITS if o != name], axis=0)
        lengths = np.linalg.norm(np.diff(skel.chain[name], axis=0), axis=1)
        starts = np.concatenate([[0.0], np.cumsum(lengths)])
        for k, j in enumerate(om.DIGIT_JOINTS[name]):
            near_axis = d < 1.25 * skel.radii[name][k]
            # Past the interdigital webs on the proximal phalanx, mid-bone on the others.
            centre = starts[k] + (0.7 if k == 0 else 0.5) * lengths[k]
            middle = (np.abs(s - centre) < 0.0035) & near_axis & own
            assert middle.sum() >= 4, (name, k)
            assert W[middle, j].min() > 0.85, (name, k)
    palm_centre = np.linalg.norm(v - np.array([-0.05, 0.0, 0.0]) * [1, 0, 1], axis=1) < 0.015
    assert palm_centre.any() and W[palm_centre, 0].min() > 0.9


def test_weights_fall_off_smoothly(model):
    W, f = model["weights"], model["f"]
    e = edges_of(f)
    jump = np.abs(W[e[:, 0]] - W[e[:, 1]]).max(1)
    assert jump.max() < 0.6  # no bone switches on one edge
    assert np.median(jump) < 0.05


def test_positive_flexion_curls_fingers_towards_the_palm(model):
    ang = np.zeros((15, 3))
    for name in ("index", "middle", "ring", "pinky"):
        for j in om.DIGIT_JOINTS[name]:
            ang[j - 1, 0] = np.radians(60.0)
    posed = naive_lbs(model, om.anatomical_to_axis_angle(ang, model["joint_axes"]))
    tips = model["tip_ids"][1:]
    rest = model["v_template"][tips]
    assert np.all(posed[tips, 1] < rest[:, 1] - 0.04)  # moved to the palm side (−y)
    # For the four fingers the flexion axis is about +z (fanned by a few degrees in the palm
    # plane): flexion is mostly a positive z-rotation.
    flex_axes = model["joint_axes"][1:13, 0]
    assert np.all(flex_axes[:, 2] > 0.97) and np.allclose(flex_axes[:, 1], 0.0, atol=1e-12)


# --- joint regressor -------------------------------------------------------------------------------
def test_joint_regressor_is_sparse_convex_and_local(model):
    Jr, v, J = model["J_regressor"], model["v_template"], model["J"]
    assert Jr.min() >= 0.0
    np.testing.assert_allclose(Jr.sum(1), 1.0, atol=1e-12)
    for j in range(16):
        support = np.nonzero(Jr[j])[0]
        assert 3 <= len(support) <= 80
        assert np.linalg.norm(v[support] - J[j], axis=1).max() < 0.03


def test_joint_regressor_reproduces_the_skeleton_across_shapes(model):
    Jr, v, sd = model["J_regressor"], model["v_template"], model["shapedirs"]
    np.testing.assert_allclose(Jr @ v, model["J"], atol=1e-6)
    betas = np.random.default_rng(1).standard_normal((50, 10)) * 1.5
    shaped = v + np.einsum("vck,nk->nvc", sd, betas)
    want = model["J"] + np.einsum("jck,nk->njc", model["J_shapedirs"], betas)
    err = np.linalg.norm(np.einsum("jv,nvc->njc", Jr, shaped) - want, axis=-1)
    assert err.max() < 1.5e-3 and err.mean() < 2e-4


def test_joint_regressor_finds_the_joints_of_population_members(model):
    # Members built directly from anatomical factors (no PCA truncation): their true skeleton.
    sig = np.array([sd for _, sd, _ in om.SHAPE_FACTORS])
    factors = np.random.default_rng(3).standard_normal((20, len(sig))) * sig
    M, b, joints, _ = om._bone_affines(om.template_skeleton(), factors)
    verts = om._deform(model["v_template"], model["weights"], M, b)
    err = np.linalg.norm(np.einsum("jv,nvc->njc", model["J_regressor"], verts) - joints, axis=-1)
    assert err.max() < 1e-3 and err.mean() < 2e-4


# --- shape space -----------------------------------------------------------------------------------
def test_shapedirs_are_principal_components_in_order_of_variance(model):
    S = model["shapedirs"].reshape(-1, 10)
    norms = np.linalg.norm(S, axis=0)
    assert np.all(np.diff(norms) < 0)
    gram = (S / norms).T @ (S / norms)
    np.testing.assert_allclose(gram, np.eye(10), atol=1e-8)
    explained = model["shape_explained"]
    assert np.all(np.diff(explained) < 0) and explained.sum() > 0.99
    # The scale makes β ~ N(0, I) match the population: std of hand length about 1.2 cm.
    v, tips = model["v_template"], model["tip_ids"]
    betas = np.random.default_rng(2).standard_normal((400, 10))
    lengths = [
        hand_length(v + model["shapedirs"] @ b, model["J"] + model["J_shapedirs"] @ b, tips)
        for b in betas
    ]
    assert 0.008 < np.std(lengths) < 0.016


@pytest.mark.parametrize("k", range(10))
@pytest.mark.parametrize("value", [-3.0, -2.0, 2.0, 3.0])
def test_extreme_shapes_stay_plausible(model, k, value):
    beta = np.zeros(10)
    beta[k] = value
    v = model["v_template"] + model["shapedirs"] @ beta
    J = model["J_regressor"] @ v
    length = hand_length(v, J, model["tip_ids"])
    if abs(value) <= 2.0:
        assert 0.15 <= length <= 0.23
    else:
        assert 0.14 <= length <= 0.24
    assert om.signed_volume(v, model["f"]) > 0.0
    if abs(value) == 3.0 and k < 3:
        np.testing.assert_allclose(winding_number(J, v, model["f"]), 1.0, atol=1e-6)


# --- pose space ------------------------------------------------------------------------------------
def test_pose_pca_is_orthonormal_and_ordered(model):
    C = model["hands_components"]
    np.testing.assert_allclose(C @ C.T, np.eye(45), atol=1e-10)
    var = model["hands_std"] ** 2
    # Strictly decreasing with gaps far above rounding noise: the basis is unique, so another
    # machine's LAPACK finds the same components.
    assert np.all(-np.diff(var) / var[1:] > 1e-3)
    assert model["hands_std"][0] > 5 * model["hands_std"][-1]


def test_hands_mean_is_a_relaxed_pose_within_the_joint_limits(model):
    ang = om.axis_angle_to_anatomical(model["hands_mean"], model["joint_axes"])
    lim = model["joint_limits"]
    assert np.all(ang >= lim[..., 0]) and np.all(ang <= lim[..., 1])
    flex = np.degrees(ang[:, 0])
    fingers = [j - 1 for n in ("index", "middle", "ring", "pinky") for j in om.DIGIT_JOINTS[n]]
    assert np.all((flex[fingers] > 10.0) & (flex[fingers] < 70.0))  # relaxed, not flat or fist


def test_pose_population_respects_limits_and_gives_hands_mean(model):
    poses = om.sample_pose_population()
    np.testing.assert_allclose(poses.mean(0), model["hands_mean"], atol=1e-12)
    ang = om.axis_angle_to_anatomical(poses[:2000])
    lim = om.joint_limits()
    assert np.all(ang >= lim[..., 0] - 1e-12) and np.all(ang <= lim[..., 1] + 1e-12)
    # Round trip between anatomical angles and axis-angles.
    np.testing.assert_allclose(om.anatomical_to_axis_angle(ang), poses[:2000], atol=1e-12)


def test_random_streams_are_reproducible():
    a = om._normal(5, (1000,))
    np.testing.assert_array_equal(a, om._normal(5, (1000,)))
    assert abs(a.mean()) < 0.1 and abs(a.std() - 1.0) < 0.1
