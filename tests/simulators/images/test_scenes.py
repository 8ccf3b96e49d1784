"""Scene builders: crop cameras, and labels that agree with the raw renders to sub-pixel.

The central check (:func:`check_labels`): render an item with each hand's *camera-frame
position* as its attribute map; every hand pixel's surface point must project (with the sample's
K) onto that pixel's centre, the mask label must be the slot's hand, the stored joints2d must be
the projection of joints3d, and the stored MANO parameters must reproduce the stored vertices.
A half-pixel offset, a y-flip or a wrong crop K fails by ≥ 0.5 px.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.handmodel import HandModel
from handpose.render.camera import project
from handpose.render.gl import GLRenderer
from handpose.render.scene import LEFT_HAND, RIGHT_HAND, Mesh, Scene
from handpose.simulators.images.appearance import DOMAINS
from handpose.simulators.images.hands import (
    PENETRATION_TOLERANCE,
    HandRig,
    PosedHand,
    penetration_depth,
)
from handpose.simulators.images.scenes import (
    CONFIGURATIONS,
    PoseSource,
    SceneOptions,
    crop_intrinsics,
    make_subject,
    single_item,
    twohand_item,
    video_items,
)
from tests.render.gl_support import needs_gl


def test_crop_intrinsics_constants():
    K = np.array([[500.0, 0.0, 320.0], [0.0, 480.0, 240.0], [0.0, 0.0, 1.0]])
    Kc = crop_intrinsics(K, 100.0, 50.0, 200.0, 224)
    s = 224 / 200
    np.testing.assert_allclose(
        Kc, [[500 * s, 0, (320 - 100) * s - 0.5], [0, 480 * s, (240 - 50) * s - 0.5], [0, 0, 1]]
    )
    # The box's left edge maps to the left edge of output pixel 0 (u' = −½), its right edge
    # to the right edge of the last pixel (u' = N − ½).
    rng = np.random.default_rng(0)
    x = rng.uniform([-0.1, -0.1, 0.5], [0.1, 0.1, 1.0], (20, 3))
    uv, uvc = project(x, K), project(x, Kc)
    np.testing.assert_allclose(uvc, (uv - [100.0, 50.0]) * s - 0.5, atol=1e-9)


@pytest.fixture(scope="module")
def rig():
    return HandRig("open")


@pytest.fixture(scope="module")
def models():
    return {s: HandModel("open", side=s, dtype=torch.float64) for s in ("right", "left")}


def _opts(size=64, **kw):
    return SceneOptions(**{"size": size, "domain": DOMAINS["main"], **kw})


def check_labels(item, models, *, attr_tol=0.05):
    s = item.sample
    N = s["image"].shape[0] if "image" in s else s["capture_hw"][0]
    K = s["K"].astype(np.float64)
    for m in item.scene.meshes:
        m.attributes = m.vertices if m.instance in (RIGHT_HAND, LEFT_HAND) else None
    out = GLRenderer(int(N), int(N), attribute_channels=3).render([item.scene])
    mask, attr = out.mask[0], out.attributes[0]
    rows, cols = np.nonzero((mask == RIGHT_HAND) | (mask == LEFT_HAND))
    assert len(rows) > 20, "no hand visible"
    uv = project(attr[rows, cols].astype(np.float64), K)
    err = np.abs(uv - np.stack([cols, rows], 1)).max()
    assert err < attr_tol, err
    for slot, label, side in ((0, RIGHT_HAND, "right"), (1, LEFT_HAND, "left")):
        if not s["hand_valid"][slot]:
            assert not (mask == label).any()
            assert not s["joint_valid"][slot].any() and not s["mano_valid"][slot]
            continue
        assert s["joint_valid"][slot].all() and s["mano_valid"][slot]
        np.testing.assert_allclose(
            s["joints2d"][slot], project(s["joints3d"][slot].astype(np.float64), K), atol=2e-3
        )
        o = models[side](
            global_orient=torch.as_tensor(
                s["mano_global_orient"][slot : slot + 1], dtype=torch.float64
            ),
            hand_pose=torch.as_tensor(s["mano_hand_pose"][slot : slot + 1], dtype=torch.float64),
            betas=torch.as_tensor(s["mano_betas"][slot : slot + 1], dtype=torch.float64),
            transl=torch.as_tensor(s["mano_transl"][slot : slot + 1], dtype=torch.float64),
        )
        np.testing.assert_allclose(o.vertices[0].numpy(), s["vertices"][slot], atol=2e-6)
        np.testing.assert_allclose(o.joints21[0].numpy(), s["joints3d"][slot], atol=2e-6)
        # The hand's visible pixels are its own mesh's, inside the stored box.
        r, c = np.nonzero(mask == label)
        b = s["bbox"]
        if len(r):
            assert c.min() >= b[0] - 0.5 and c.max() <= b[2] + 0.5
            assert r.min() >= b[1] - 0.5 and r.max() <= b[3] + 0.5
    return mask


@needs_gl
def test_single_labels_match_render(rig, models):
    sides = set()
    for seed in range(6):
        rng = np.random.default_rng(seed)
        subj = make_subject(rig, np.random.default_rng(100 + seed), seed, DOMAINS["main"])
        item = single_item(rig, rng, subj, PoseSource(0, "train", 0.5), _opts(occluder_prob=0.5))
        s = item.sample
        assert s["hand_valid"].sum() == 1 and not s["interacting"]
        assert s["capture_hw"].tolist() == [64, 64]
        sides.add(int(np.flatnonzero(s["hand_valid"])[0]))
        check_labels(item, models)
    assert sides == {0, 1}  # both sides occur


@needs_gl
@pytest.mark.parametrize("config", [*CONFIGURATIONS, None])
def test_twohand_labels_and_penetration(rig, models, config):
    for seed in range(2):
        rng = np.random.default_rng(seed)
        subs = tuple(
            make_subject(rig, np.random.default_rng(200 + k), k, DOMAINS["main"])
            for k in (seed, seed + 50)
        )
        opts = _opts(size=96, single_hand_prob=1.0)  # forced configurations ignore it
        item = twohand_item(
            rig, rng, subs, PoseSource(0, "train", 0.25), opts, configuration=config
        )
        s = item.sample
        mask = check_labels(item, models)
        if config is None:  # single-hand (SH) frame
            assert not s["interacting"] and s["hand_valid"].sum() == 1
            assert int(s["extra_configuration"]) == -1
            continue
        assert s["interacting"] and s["hand_valid"].all()
        assert int(s["extra_configuration"]) == CONFIGURATIONS.index(config)
        hands = [
            PosedHand(side, None, None, None, None, s["vertices"][k].astype(np.float64),
                      s["joints3d"][k].astype(np.float64), None)
            for k, side in ((0, "right"), (1, "left"))
        ]  # fmt: skip
        depth = penetration_depth(*hands)
        assert depth < PENETRATION_TOLERANCE + 1e-4
        assert (mask == RIGHT_HAND).any() and (mask == LEFT_HAND).any()
        if config in ("touching", "crossing"):
            # In contact or nearly: the closest vertices are within 2.5 cm.
            d = np.linalg.norm(hands[0].vertices[::7, None] - hands[1].vertices[None, ::7], axis=-1)
            assert d.min() < 0.025


def test_unknown_configuration(rig):
    subj = make_subject(rig, np.random.default_rng(0), 0, DOMAINS["main"])
    with pytest.raises(HandposeError, match="configuration"):
        twohand_item(
            rig, np.random.default_rng(0), (subj, subj), PoseSource(0, "train", 0.0), _opts(), "hug"
        )


@needs_gl
def test_video_labels_and_smoothness(rig, models):
    rng = np.random.default_rng(4)
    subj = make_subject(rig, np.random.default_rng(5), 7, DOMAINS["heldout"])
    items = video_items(
        rig, rng, subj, PoseSource(0, "test", 0.0), _opts(size=64, object_prob=1.0, domain=DOMAINS["heldout"]),
        num_frames=6, views=2, fps=30.0, sequence="test-000001",
    )  # fmt: skip
    assert len(items) == 12
    assert [(int(it.sample["view"]), int(it.sample["frame"])) for it in items[:7]] == [
        (0, f) for f in range(6)
    ] + [(1, 0)]
    for it in items[:2] + items[6:7]:
        check_labels(it, models)
        assert any(m.instance == 3 for m in it.scene.meshes)  # the grasped object
    for v in (0, 1):
        seq = items[6 * v : 6 * v + 6]
        Ks = np.stack([it.sample["K"] for it in seq])
        assert np.ptp(Ks, axis=0).max() == 0  # fixed intrinsics per view
        j = np.stack([it.sample["joints2d"][it.sample["hand_valid"]][0] for it in seq])
        assert np.abs(np.diff(j, axis=0)).max() < 0.15 * 64  # smooth: < 15 % of the image per frame
        betas = np.stack([it.sample["mano_betas"].max(0) for it in seq])
        assert np.ptp(betas, axis=0).max() == 0
    # Both views see the same hand pose at the same frame.
    np.testing.assert_allclose(items[0].sample["mano_hand_pose"], items[6].sample["mano_hand_pose"])
    assert all(it.sample["sequence"] == "test-000001" for it in items)


@needs_gl
def test_rendering_with_the_crop_K_is_cropping_the_capture(rig):
    """Rendering with crop_intrinsics equals cutting the box out of the full render (scale 1)
    and area-averaging it (scale ½)."""
    subj = make_subject(rig, np.random.default_rng(1), 1, DOMAINS["main"])
    rng = np.random.default_rng(3)
    hand = rig.placed(
        "right",
        [2.0, 0.5, 0.3],
        PoseSource(0, "train", 1.0)(rng, subj),
        subj.betas,
        [0.01, 0.0, 0.3],
    )
    K = np.array([[150.0, 0.0, 63.5], [0.0, 150.0, 63.5], [0.0, 0.0, 1.0]])
    mesh = Mesh(hand.vertices, rig.faces["right"], subj.albedo, RIGHT_HAND)
    full = GLRenderer(128, 128).render([Scene([mesh], K)])
    x0, y0 = 31.5, 15.5  # the box covers pixels 32..95 and rows 16..79
    crop = GLRenderer(64, 64).render([Scene([mesh], crop_intrinsics(K, x0, y0, 64.0, 64))])
    ref = full.mask[0, 16:80, 32:96]
    assert ref.sum() > 200
    assert (crop.mask[0] == ref).mean() > 0.999
    both = (crop.mask[0] > 0) & (ref > 0)
    assert np.median(np.abs(crop.depth[0][both] - full.depth[0, 16:80, 32:96][both])) < 1e-6
    half = GLRenderer(32, 32).render([Scene([mesh], crop_intrinsics(K, x0, y0, 64.0, 32))])
    cover = ref.reshape(32, 2, 32, 2).mean((1, 3))
    # Pixels fully inside the hand at half scale are hand pixels of the direct render.
    assert (half.mask[0][cover == 1.0] == RIGHT_HAND).all()
    assert (half.mask[0][cover == 0.0] == 0).all()
