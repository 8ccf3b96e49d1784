"""Causality of the temporal fusion; streaming == file mode == window forward."""

import pytest
import torch

from handpose.models.pgte import PGTE, VibeBaseline, WindowStream, run_sequence
from handpose.models.pgte.temporal import TemporalFusion, causal_token_mask

from .tiny import crop_K, frames, sensitive, tiny_config, tiny_vibe_config


def test_mask_hand_computed():
    m = causal_token_mask(2, 2)
    expect = torch.tensor(
        [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]], dtype=torch.bool
    )
    assert torch.equal(m, expect)


@pytest.mark.parametrize("causal", [True, False])
def test_future_frames_change_nothing_before_them(causal):
    torch.manual_seed(0)
    fusion = TemporalFusion(8, depth=2, num_heads=2, window=5, causal=causal).eval()
    x = torch.randn(2, 5, 6, 8)
    y = x.clone()
    y[:, 3:] = torch.randn(2, 2, 6, 8)
    a, b = fusion(x), fusion(y)
    same = torch.allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert same == causal  # the bidirectional variant does look ahead


def test_window_longer_than_time_embedding_is_refused():
    with pytest.raises(ValueError, match="window"):
        TemporalFusion(8, window=2)(torch.zeros(1, 3, 6, 8))


@pytest.fixture(scope="module")
def pgte():
    torch.manual_seed(0)
    return sensitive(PGTE(tiny_config(window=3))).eval()


def test_pgte_window_forward_is_causal(pgte):
    x = frames(4, seed=1).reshape(1, 4, *frames(1).shape[1:])
    K = crop_K((1, 4))
    rd = torch.full((1, 4), 0.4)
    a = pgte(x[:, :3], K[:, :3], rd[:, :3]).vertices
    x2 = x.clone()
    x2[:, 2] = frames(1, seed=9)
    b = pgte(x2[:, :3], K[:, :3], rd[:, :3]).vertices
    assert torch.allclose(a[:, :2], b[:, :2], atol=1e-6)
    assert (a[:, 2] - b[:, 2]).abs().max() > 1e-3


@pytest.mark.parametrize("which", ["pgte", "vibe"])
def test_streaming_equals_file_mode_equals_windows(which, pgte):
    torch.manual_seed(0)
    model = pgte if which == "pgte" else VibeBaseline(tiny_vibe_config(window=3)).eval()
    F = 7
    x, K, rd = frames(F, seed=2), crop_K((F,)), torch.linspace(0.3, 0.5, F)
    side = torch.ones(F, dtype=torch.long)
    offline = run_sequence(model, x, K, rd, side, chunk=3)
    stream = WindowStream(model)
    for t in range(F):
        live = stream.step(x[t : t + 1], K[t : t + 1], rd[t : t + 1], side[t : t + 1])
        assert torch.allclose(live.vertices[0], offline.vertices[t], atol=1e-5), t
        # the window that ends at t (at most 3 frames), through the training forward
        s = max(0, t - 2)
        with torch.no_grad():
            win = model(x[None, s : t + 1], K[None, s : t + 1], rd[None, s : t + 1], side[None, :1])
        assert torch.allclose(win.vertices[0, -1], offline.vertices[t], atol=1e-5), t


def test_stream_reset_and_future_independence(pgte):
    x, K = frames(5, seed=3), crop_K((5,))
    s1, s2 = WindowStream(pgte), WindowStream(pgte)
    outs = [s1.step(x[t : t + 1], K[t : t + 1]).vertices for t in range(3)]
    y = x.clone()
    y[3:] = frames(2, seed=4)
    outs2 = [s2.step(y[t : t + 1], K[t : t + 1]).vertices for t in range(5)]
    for t in range(3):
        assert torch.allclose(outs[t], outs2[t])
    s2.reset()
    assert torch.allclose(s2.step(x[:1], K[:1]).vertices, outs[0])
