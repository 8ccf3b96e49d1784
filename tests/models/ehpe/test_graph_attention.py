"""SPI graph attention: hand-computed graphs, a naive loop, the hand skeleton's hop sets."""

import math

import pytest
import torch
import torch.nn.functional as F

from handpose.errors import HandposeError
from handpose.models.ehpe.spi import (
    SPI,
    graph_attention,
    hop_neighbourhood,
    skeleton_adjacency,
    skeleton_edges,
)

CHAIN = torch.tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.bool)


def _softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def test_dynamic_weights_on_a_hand_computed_chain():
    # nodes 0 - 1 - 2, one head, scalar features: W = 2, a_dst = 0.5 (for W h_i), a_src = 1.
    h = torch.tensor([[1.0], [-2.0], [3.0]], dtype=torch.float64)
    W = torch.tensor([[[2.0]]], dtype=torch.float64)
    mask = hop_neighbourhood(CHAIN, 1)
    out, alpha = graph_attention(
        h, W, mask, att_src=torch.tensor([[1.0]]).double(), att_dst=torch.tensor([[0.5]]).double()
    )
    wh = [2.0, -4.0, 6.0]

    def leaky(x):
        return x if x > 0 else 0.2 * x

    # node 0 sees {0, 1}: e = 0.5·2 + 2 = 3, 0.5·2 − 4 = −3 → LeakyReLU −0.6
    a0 = _softmax([leaky(3.0), leaky(-3.0)])
    # node 1 sees {0, 1, 2}: e = −2 + 2 = 0, −2 − 4 = −6 → −1.2, −2 + 6 = 4
    a1 = _softmax([0.0, -1.2, 4.0])
    # node 2 sees {1, 2}: e = 3 − 4 = −1 → −0.2, 3 + 6 = 9
    a2 = _softmax([-0.2, 9.0])
    expected_alpha = torch.tensor(
        [[a0[0], a0[1], 0.0], [a1[0], a1[1], a1[2]], [0.0, a2[0], a2[1]]], dtype=torch.float64
    )
    torch.testing.assert_close(alpha[0], expected_alpha)
    expected = [
        a0[0] * wh[0] + a0[1] * wh[1],
        a1[0] * wh[0] + a1[1] * wh[1] + a1[2] * wh[2],
        a2[0] * wh[1] + a2[1] * wh[2],
    ]
    torch.testing.assert_close(out[:, 0], torch.tensor(expected, dtype=torch.float64))


def test_fixed_weights_are_the_neighbourhood_mean():
    h = torch.tensor([[1.0], [-2.0], [3.0]])
    W = torch.tensor([[[2.0]]])
    out, alpha = graph_attention(h, W, hop_neighbourhood(CHAIN, 1))
    torch.testing.assert_close(
        out[:, 0], torch.tensor([(2 - 4) / 2, (2 - 4 + 6) / 3, (-4 + 6) / 2])
    )
    torch.testing.assert_close(alpha[0].sum(-1), torch.ones(3))


def _naive(h, W, mask, a_src, a_dst):
    """One sample, explicit loops over heads, nodes and neighbours."""
    K, _, dh = W.shape
    n = h.shape[0]
    out = torch.zeros(n, K * dh, dtype=h.dtype)
    for k in range(K):
        wh = h @ W[k]
        for i in range(n):
            nbrs = [j for j in range(n) if mask[i, j]]
            e = torch.stack([F.leaky_relu(a_dst[k] @ wh[i] + a_src[k] @ wh[j], 0.2) for j in nbrs])
            a = torch.softmax(e, 0)
            out[i, k * dh : (k + 1) * dh] = sum(a[t] * wh[j] for t, j in enumerate(nbrs))
    return out


def test_multi_head_matches_the_naive_loop_and_concatenates_head_major():
    g = torch.Generator().manual_seed(0)
    n, d_in, K, dh = 7, 5, 3, 4
    adj = torch.rand(n, n, generator=g) < 0.3
    adj = adj | adj.T
    mask = hop_neighbourhood(adj, 1)
    h = torch.randn(2, n, d_in, generator=g, dtype=torch.float64)
    W = torch.randn(K, d_in, dh, generator=g, dtype=torch.float64)
    a_s = torch.randn(K, dh, generator=g, dtype=torch.float64)
    a_d = torch.randn(K, dh, generator=g, dtype=torch.float64)
    out, alpha = graph_attention(h, W, mask, a_s, a_d)
    assert out.shape == (2, n, K * dh) and alpha.shape == (2, K, n, n)
    for b in range(2):
        torch.testing.assert_close(out[b], _naive(h[b], W, mask, a_s, a_d))
    assert (alpha[..., ~mask] == 0).all()


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(1)
    mask = hop_neighbourhood(CHAIN, 1)
    h = torch.randn(1, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    W = torch.randn(2, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    a_s = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    a_d = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *x: graph_attention(x[0], x[1], mask, x[2], x[3])[0], (h, W, a_s, a_d)
    )


def test_hand_skeleton_hops_pinned():
    adj = skeleton_adjacency()
    assert len(skeleton_edges()) == 20 and int(adj.sum()) == 40
    one = hop_neighbourhood(adj, 1)
    assert set(one[0].nonzero().flatten().tolist()) == {0, 1, 5, 9, 13, 17}
    assert set(one[8].nonzero().flatten().tolist()) == {7, 8}
    two = hop_neighbourhood(adj, 2)
    assert set(two[8].nonzero().flatten().tolist()) == {6, 7, 8}
    assert set(two[5].nonzero().flatten().tolist()) == {0, 1, 5, 6, 7, 9, 13, 17}
    # with 1 + 2 hops an MCP receives its fingertip (three bones away)
    three = hop_neighbourhood(adj, 3)
    assert three[5, 8] and not two[5, 8]


def test_spi_layers_use_growing_neighbourhoods_and_eq10_skip():
    torch.manual_seed(0)
    spi = SPI(16, layers=3, heads=8)
    assert [int(m.sum()) for m in spi.masks] == [
        int(hop_neighbourhood(skeleton_adjacency(), k).sum()) for k in (1, 2, 3)
    ]
    flat = SPI(16, layers=2, heads=8, multi_hop=False)
    assert torch.equal(flat.masks[0], flat.masks[1])
    h0 = torch.randn(4, 21, 16)
    h, alphas = spi(h0)
    assert h.shape == (4, 21, 16) and len(alphas) == 3
    # eq. 10: without the skip weights the output changes (every layer sees h0)
    with torch.no_grad():
        for s in spi.skips:
            s.weight.zero_()
    h2, _ = spi(h0)
    assert not torch.allclose(h, h2)
    fixed = SPI(16, layers=2, heads=8, dynamic=False)
    assert not any("att_" in n for n, _ in fixed.named_parameters())


def test_bad_input():
    with pytest.raises(HandposeError, match="att_src and att_dst"):
        graph_attention(torch.zeros(3, 1), torch.zeros(1, 1, 1), CHAIN, att_src=torch.zeros(1, 1))
    with pytest.raises(HandposeError, match="hops"):
        hop_neighbourhood(CHAIN, -1)
