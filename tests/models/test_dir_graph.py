"""DIR's hand graph and per-node semantic GCN: adjacency, locality, a hand-computed layer."""

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.dir.graph import HAND_BONES, SemGCN, SemGraphConv, hand_adjacency


def test_adjacency_is_the_openpose_hand_tree():
    adj = hand_adjacency()
    assert adj.shape == (21, 21) and torch.equal(adj, adj.T) and adj.diagonal().sum() == 0
    assert int(adj.sum()) == 2 * 20 and len(HAND_BONES) == 20
    # the wrist links the five finger bases (thumb CMC 1, index 5, middle 9, ring 13, pinky 17)
    assert adj[0].nonzero().flatten().tolist() == [1, 5, 9, 13, 17]
    for tip in (4, 8, 12, 16, 20):  # tips have only their DIP / IP
        assert adj[tip].nonzero().flatten().tolist() == [tip - 1]
    for j in (2, 3, 6, 7, 10, 11, 14, 15, 18, 19):  # inner joints: parent and child
        assert adj[j].nonzero().flatten().tolist() == [j - 1, j + 1]
    assert adj[1, 5] == 0 and adj[9, 13] == 0  # no edges between fingers
    with pytest.raises(HandposeError, match="21 joints"):
        hand_adjacency(16)


def test_normalised_adjacency_rows_and_zeros():
    conv = SemGraphConv(3, 4, hand_adjacency())
    with torch.no_grad():
        conv.edge_logits.normal_()
    a = conv.normalised_adjacency()
    np.testing.assert_allclose(a.sum(-1).detach().numpy(), np.ones(21), atol=1e-6)
    allowed = (hand_adjacency() + torch.eye(21)) > 0
    assert torch.all(a[~allowed] == 0) and torch.all(a[allowed] > 0)


def test_layer_hand_computed_neighbourhood_mean():
    """Equal edge weights, W⁰ = W¹ = I, b = 0: the output is the neighbourhood mean."""
    conv = SemGraphConv(2, 2, hand_adjacency()).double()
    with torch.no_grad():
        conv.weight.copy_(torch.eye(2).expand(2, 21, 2, 2))
        conv.bias.zero_()
    x = torch.arange(42, dtype=torch.float64).reshape(1, 21, 2)
    y = conv(x)[0]
    np.testing.assert_allclose(y[0].detach().numpy(), x[0, [0, 1, 5, 9, 13, 17]].mean(0).numpy())
    np.testing.assert_allclose(y[4].detach().numpy(), x[0, [3, 4]].mean(0).numpy())
    np.testing.assert_allclose(y[6].detach().numpy(), x[0, [5, 6, 7]].mean(0).numpy())


def test_per_node_weights_act_at_the_source_joint():
    """Scaling joint 3's neighbour weights changes only the outputs of its neighbours 2 and 4."""
    torch.manual_seed(0)
    conv = SemGraphConv(4, 4, hand_adjacency()).double()
    x = torch.randn(2, 21, 4, dtype=torch.float64)
    y0 = conv(x)
    with torch.no_grad():
        conv.weight[1, 3] *= 2.0
    changed = (conv(x) - y0).abs().amax((0, 2)) > 1e-12
    assert changed.nonzero().flatten().tolist() == [2, 4]


def test_gcn_is_local_per_layer():
    """d out_i / d x_j ≠ 0 only within graph distance ≤ the number of layers (ReLUs may zero
    some of those), and the reach grows by one bone per layer."""
    torch.manual_seed(1)
    adj1 = hand_adjacency().double() + torch.eye(21, dtype=torch.float64)
    for layers in (1, 2):
        gcn = SemGCN(channels=8, num_layers=layers).double().eval()
        x = torch.randn(1, 21, 8, dtype=torch.float64)
        jac = (
            torch.autograd.functional.jacobian(lambda v, m=gcn: m(v).sum(-1)[0], x)[:, 0]
            .abs()
            .sum(-1)
        )
        reach = torch.linalg.matrix_power(adj1, layers) > 0
        touched = jac > 1e-12
        assert not bool((touched & ~reach).any())  # nothing beyond the reach
        frontier = reach & ~(torch.linalg.matrix_power(adj1, layers - 1) > 0)
        assert bool((touched & frontier).any())  # the outermost ring is reached


def test_gcn_shapes_and_gradcheck():
    gcn = SemGCN(channels=4, num_layers=2).double().train()
    x = torch.randn(3, 21, 4, dtype=torch.float64, requires_grad=True)
    assert gcn(x).shape == (3, 21, 4)
    conv = SemGraphConv(4, 5, hand_adjacency()).double()
    torch.autograd.gradcheck(conv, (x,))
    with pytest.raises(HandposeError, match="symmetric"):
        SemGraphConv(2, 2, torch.triu(torch.ones(21, 21)))
