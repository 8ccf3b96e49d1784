"""Skin, lights, textures and the disjoint rendering domains."""

from __future__ import annotations

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.handmodel import HandModel
from handpose.render.rasterizer import vertex_normals
from handpose.render.scene import srgb_to_linear
from handpose.simulators.images.appearance import (
    DOMAINS,
    MONK_SKIN_TONES,
    SKIN_REFLECTANCE,
    TEXTURE_FAMILIES,
    _family,
    get_domain,
    procedural_texture,
    sample_lights,
    sample_skin,
    skin_albedo,
    texture_colors_at,
)


def test_monk_palette_constants():
    assert len(MONK_SKIN_TONES) == 10
    assert MONK_SKIN_TONES[0] == "#f6ede4" and MONK_SKIN_TONES[9] == "#292420"
    # Lightness decreases along the scale from MST-4 on (1–3 are near-white variants).
    lum = [
        int(h[1:3], 16) * 0.2126 + int(h[3:5], 16) * 0.7152 + int(h[5:7], 16) * 0.0722
        for h in MONK_SKIN_TONES
    ]
    assert all(a > b for a, b in zip(lum[3:], lum[4:]))


def test_domains_are_disjoint():
    a, b = DOMAINS["main"], DOMAINS["heldout"]
    assert not set(a.skin_tones) & set(b.skin_tones)
    assert set(a.skin_tones) | set(b.skin_tones) == set(range(1, 11))
    assert not set(a.textures) & set(b.textures)
    assert a.light_colors != b.light_colors
    with pytest.raises(HandposeError, match="unknown rendering domain"):
        get_domain("other")


def test_skin_tones_stay_nearest_their_own_swatch():
    """The jitter never moves a tone closer to another swatch (so domains stay disjoint)."""
    sw = np.stack([[int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)] for h in MONK_SKIN_TONES])
    rng = np.random.default_rng(0)
    for name, dom in DOMAINS.items():
        for _ in range(200):
            s = sample_skin(rng, dom)
            assert s.mst in dom.skin_tones
            assert int(np.linalg.norm(sw - s.tone, axis=1).argmin()) + 1 == s.mst, name


@pytest.fixture(scope="module")
def hand():
    m = HandModel("open")
    d = m.model_data
    tpl = d.v_template
    return (
        tpl,
        vertex_normals(tpl, d.faces),
        d.J_regressor @ tpl,
        d.tip_ids,
        d.metadata["dorsal_tip_ids"],
    )


def test_skin_albedo_regions(hand):
    tpl, nrm, J, tips, dorsal = hand
    skin = sample_skin(np.random.default_rng(3), DOMAINS["main"])
    skin = type(skin)(
        mst=7, tone=np.array([0.51, 0.36, 0.26]), seed=1, crease=0.3, specular=0.1, shininess=20.0
    )
    alb = skin_albedo(tpl, nrm, J, tips, skin, dorsal)
    assert alb.shape == tpl.shape and alb.min() >= 0 and alb.max() <= SKIN_REFLECTANCE
    lum = alb @ [0.2126, 0.7152, 0.0722]
    back = (nrm[:, 1] > 0.8) & (tpl[:, 0] > -0.08)  # back of the hand (fingers are −x)
    palm = (nrm[:, 1] < -0.8) & (tpl[:, 0] > -0.08)
    assert np.median(lum[palm]) > 1.1 * np.median(lum[back])  # palms lighter for a dark tone
    # Nails (at the dorsal fingertip vertices) are lighter than the skin beside the DIP joints.
    for k, dv in enumerate(dorsal):
        assert lum[dv] > 1.2 * np.median(lum[back]), k
    # Deterministic per subject seed; another seed changes the pattern only slightly.
    np.testing.assert_array_equal(alb, skin_albedo(tpl, nrm, J, tips, skin, dorsal))
    other = skin_albedo(tpl, nrm, J, tips, type(skin)(**{**skin.__dict__, "seed": 2}), dorsal)
    assert np.abs(other - alb).max() > 0 and np.median(np.abs(other - alb)) < 0.02


def test_lights_by_domain():
    rng = np.random.default_rng(0)
    target = np.array([0.0, 0.0, 0.5])
    for _ in range(50):
        white = sample_lights(rng, DOMAINS["main"], target).arrays()
        assert 1 <= len(white["directions"]) <= 2 and len(white["points"]) <= 2
        # Colour-temperature whites are mildly coloured; tinted lights (below) include saturated
        # hues (max/min channel ratio well above the whites').
        for c in white["colors"]:
            assert c.max() / max(c.min(), 1e-6) < 8.0
    sat = [
        c.max() / max(c.min(), 1e-6)
        for _ in range(100)
        for c in sample_lights(rng, DOMAINS["heldout"], target).arrays()["colors"]
    ]
    assert max(sat) > 10.0


@pytest.mark.parametrize("family", TEXTURE_FAMILIES["main"] + TEXTURE_FAMILIES["heldout"])
def test_texture_families(family):
    img = _family(np.random.default_rng(1), family, 48, 40)
    assert img.shape == (48, 40, 3) and img.min() >= -1e-9 and img.max() <= 1 + 1e-9
    assert img.std() > 0.01  # not flat


def test_procedural_texture_deterministic_and_sampling():
    a = procedural_texture(np.random.default_rng(5), 32, 32, DOMAINS["main"])
    b = procedural_texture(np.random.default_rng(5), 32, 32, DOMAINS["main"])
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    tex = np.zeros((4, 8, 3), np.uint8)
    tex[3, 7] = [255, 128, 0]  # last row (v = 1), last column (u = 1)
    c = texture_colors_at(tex, np.array([[1.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_allclose(c[0], srgb_to_linear(np.array([1.0, 128 / 255, 0.0])))
    np.testing.assert_array_equal(c[1], 0.0)
