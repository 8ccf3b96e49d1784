"""Distillation losses on hand-computed cases, and the variant registry."""

import math

import pytest
import torch

from handpose.handmodel.conventions import MANO_PARENTS
from handpose.losses.distill import (
    VARIANTS,
    DKDLoss,
    GlobalFeatureDistill,
    MGDistill,
    SCJDLoss,
    SimKDLoss,
    adjacent_attention,
    build_distiller,
    dkd_terms,
    get_variant,
    kinematic_neighbourhood,
    normalized_sq_distance,
    temporal_correlation,
)
from handpose.models.mgdhand.outputs import MGDHandOutput


def out(features, priors=None, b=2, t=4):
    return MGDHandOutput(
        rotmats=torch.eye(3).expand(b, t, 16, 3, 3),
        pose6d=torch.zeros(b, t, 16, 6),
        betas=torch.zeros(b, 10),
        joints=torch.zeros(b, t, 21, 3),
        vertices=None,
        features=features,
        priors=priors or {},
    )


def priors(seed, b=2, t=4):
    g = torch.Generator().manual_seed(seed)
    return {
        "shape": torch.randn(b, 5, generator=g),
        "pose": torch.randn(b, t, 16, 6, generator=g),
        "motion": torch.randn(b, t, 16, 3, generator=g),
    }


# ----------------------------------------------------------------- normalised distance
def test_normalized_distance_hand_computed():
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert normalized_sq_distance(e1, e1, 1).item() == 0.0
    assert normalized_sq_distance(e1, e2, 1).item() == pytest.approx(2.0)  # orthogonal
    assert normalized_sq_distance(e1, -e1, 1).item() == pytest.approx(4.0)  # opposite
    a = torch.tensor([[3.0, 4.0]])
    assert normalized_sq_distance(a, 10 * a, 1).item() == pytest.approx(0.0, abs=1e-7)
    b = torch.tensor([[1.0, 1.0]])  # 45°: 2 − 2 cos 45°
    assert normalized_sq_distance(e1, b, 1).item() == pytest.approx(2 - math.sqrt(2), rel=1e-6)


def test_normalized_distance_granularity():
    # Two frames; per-frame vectors (start_dim=1 on (T, D)) vs one clip vector (start_dim=0).
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    assert normalized_sq_distance(s, t, 1).item() == pytest.approx(1.0)  # mean of 0 and 2
    clip = normalized_sq_distance(s[None], t[None], 1).item()  # one 4-vector
    # [1, 0, 0, 1]/√2 vs [1, 0, 2, 0]/√5: cos = 1/√10
    assert clip == pytest.approx(2 - 2 / math.sqrt(10), rel=1e-6)
    with pytest.raises(ValueError):
        normalized_sq_distance(s, t[:1], 1)


# ----------------------------------------------------------------- MGDistill
def test_mgdistill_identical_priors_give_zero_and_weights_select_terms():
    p = priors(0)
    s = out(torch.zeros(2, 4, 16, 8), p)
    t = out(torch.zeros(2, 4, 16, 8), {k: 2.0 * v for k, v in p.items()})  # scale-invariant
    terms = MGDistill()(s, t)
    assert all(terms[k].item() == pytest.approx(0.0, abs=1e-6) for k in terms)
    t2 = out(torch.zeros(2, 4, 16, 8), priors(1))
    full = MGDistill(1.0, 1.0, 1.0)(s, t2)
    dpd = MGDistill(0.0, 1.0, 0.0)(s, t2)
    assert dpd["distill"].item() == pytest.approx(full["pose"].item())
    assert full["distill"].item() == pytest.approx(
        (full["shape"] + full["pose"] + full["motion"]).item()
    )


def test_mgdistill_orthogonal_per_frame_pose_prior():
    p = priors(0, t=3)
    q = {k: v.clone() for k, v in p.items()}
    p["pose"] = torch.zeros(2, 3, 16, 6)
    q["pose"] = torch.zeros(2, 3, 16, 6)
    p["pose"][..., 0] = 1.0
    q["pose"][:, 0, :, 0] = 1.0  # frame 0 identical
    q["pose"][:, 1:, :, 1] = 1.0  # frames 1, 2 orthogonal
    terms = MGDistill()(
        out(torch.zeros(2, 3, 16, 4), p, t=3), out(torch.zeros(2, 3, 16, 4), q, t=3)
    )
    assert terms["pose"].item() == pytest.approx((0 + 2 + 2) / 3)


# ----------------------------------------------------------------- DKD
def test_dkd_three_class_toy_by_hand():
    zs = torch.tensor([[1.0, 2.0, 3.0]])
    zt = torch.tensor([[3.0, 1.0, 0.0]])  # teacher's arg-max: class 0
    T = 2.0
    ps, pt = (zs / T).softmax(-1)[0], (zt / T).softmax(-1)[0]
    bs = torch.stack([ps[0], 1 - ps[0]])
    bt = torch.stack([pt[0], 1 - pt[0]])
    tckd = (bt * (bt / bs).log()).sum() * T**2
    ns, nt = (zs[0, 1:] / T).softmax(-1), (zt[0, 1:] / T).softmax(-1)
    nckd = (nt * (nt / ns).log()).sum() * T**2
    terms = dkd_terms(zs, zt, dim=-1, temperature=T)
    assert terms["tckd"].item() == pytest.approx(tckd.item(), rel=1e-5)
    assert terms["nckd"].item() == pytest.approx(nckd.item(), rel=1e-5)
    # The class axis can be any dimension.
    moved = dkd_terms(zs.T[None], zt.T[None], dim=1, temperature=T)
    assert moved["tckd"].item() == pytest.approx(tckd.item(), rel=1e-5)


def test_dkd_identical_logits_give_zero_and_warmup_ramps():
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    terms = dkd_terms(z, z, temperature=4.0)
    # Zero up to float32 rounding (softmax-then-log vs log-softmax), scaled by T² = 16.
    assert terms["tckd"].item() == pytest.approx(0, abs=1e-5)
    assert terms["nckd"].item() == pytest.approx(0, abs=1e-5)
    torch.manual_seed(0)
    loss = DKDLoss(8, 6, alpha=1.0, beta=8.0, temperature=4.0, warmup=2.0)
    s, t = out(torch.randn(2, 4, 16, 8)), out(torch.randn(2, 4, 16, 6))
    full = loss(s, t, epoch=5.0)["distill"]
    half = loss(s, t, epoch=1.0)["distill"]
    assert half.item() == pytest.approx(0.5 * full.item(), rel=1e-5)
    assert loss(s, t, epoch=0.0)["distill"].item() == 0.0


# ----------------------------------------------------------------- SCJD
def test_kinematic_neighbourhood_pins_the_mano_tree():
    nb = kinematic_neighbourhood()
    assert nb.shape == (16, 16) and torch.equal(nb, nb.T)
    assert nb[0].nonzero().flatten().tolist() == [0, 1, 4, 7, 10, 13]  # wrist + 5 finger roots
    assert nb[2].nonzero().flatten().tolist() == [1, 2, 3]
    assert nb[15].nonzero().flatten().tolist() == [14, 15]  # thumb tip joint: parent + self
    assert int(nb.sum()) == 16 + 2 * sum(p >= 0 for p in MANO_PARENTS)


def test_adjacent_attention_and_temporal_correlation():
    x = torch.randn(3, 16, 8)
    nb = kinematic_neighbourhood()
    a = adjacent_attention(x, nb, tau=0.1)
    assert torch.allclose(a.sum(-1), torch.ones(3, 16))
    assert torch.all(a[:, ~nb] == 0)
    c = temporal_correlation(torch.randn(2, 5, 16, 8))
    assert c.shape == (2, 16, 5, 5)
    assert torch.allclose(c.diagonal(dim1=-2, dim2=-1), torch.ones(2, 16, 5), atol=1e-6)


def test_scjd_zero_for_identical_features_after_identity_projection():
    loss = SCJDLoss(8, 8)
    with torch.no_grad():
        loss.projector.weight.copy_(torch.eye(8))
        loss.projector.bias.zero_()
    f = torch.randn(2, 4, 16, 8)
    terms = loss(out(f), out(f))
    assert all(terms[k].item() == pytest.approx(0.0, abs=1e-6) for k in terms)
    terms = loss(out(f), out(torch.randn(2, 4, 16, 8)))
    assert all(terms[k].item() > 0 for k in ("joint", "attention", "temporal"))


# ----------------------------------------------------------------- SimKD, global
def test_simkd_is_feature_mse_and_checks_shapes():
    f = torch.randn(2, 4, 16, 8)
    assert SimKDLoss()(out(f), out(f))["distill"].item() == 0
    assert SimKDLoss(weight=2.0)(out(f + 1.0), out(f))["distill"].item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="head='teacher'"):
        SimKDLoss()(out(torch.randn(2, 4, 16, 6)), out(f))


def test_global_feature_distill_uses_one_pooled_vector():
    loss = GlobalFeatureDistill(8, 8)
    with torch.no_grad():
        loss.projector.weight.copy_(torch.eye(8))
        loss.projector.bias.zero_()
    f = torch.randn(2, 4, 16, 8)
    # Any permutation of frames/joints has the same pooled vector: no per-frame information.
    shuffled = f[:, torch.randperm(4)][:, :, torch.randperm(16)]
    assert loss(out(shuffled), out(f))["global"].item() == pytest.approx(0.0, abs=1e-6)


# ----------------------------------------------------------------- registry
def test_registry_names_and_mapping():
    assert list(VARIANTS) == ["none", "global", "ssd", "dpd", "tmd", "wo_ssd", "wo_dpd",
                              "wo_tmd", "mgdistill", "simkd", "dkd", "scjd"]  # fmt: skip
    on = lambda n: {k for k, w in get_variant(n).weights.items() if w > 0}  # noqa: E731
    assert on("ssd") == {"shape"} and on("dpd") == {"pose"} and on("tmd") == {"motion"}
    assert on("wo_ssd") == {"pose", "motion"} and on("wo_dpd") == {"shape", "motion"}
    assert on("wo_tmd") == {"shape", "pose"} and on("mgdistill") == {"shape", "pose", "motion"}
    assert get_variant("simkd").student_head == "teacher"
    assert all(get_variant(n).student_head == "own" for n in VARIANTS if n != "simkd")
    with pytest.raises(ValueError, match="unknown distillation variant"):
        get_variant("kd")
    with pytest.raises(TypeError):
        get_variant("ssd").weights["pose"] = 1.0  # variants are read-only data


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_builds_and_backpropagates_to_the_student(name):
    torch.manual_seed(0)
    distiller = build_distiller(name, student_dim=8, teacher_dim=6, scale=0.5)
    teacher_dim = 6
    sf = torch.randn(2, 4, 16, teacher_dim if name == "simkd" else 8, requires_grad=True)
    sp = {k: v.requires_grad_() for k, v in priors(0).items()}
    terms = distiller(out(sf, sp), out(torch.randn(2, 4, 16, teacher_dim), priors(1)), epoch=1.0)
    assert torch.isfinite(terms["distill"])
    if name == "none":
        assert terms["distill"].item() == 0
        return
    terms["distill"].backward()
    grads = [sf.grad] + [p.grad for p in sp.values()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
