"""The hand skeleton graph and DIR's per-hand semantic graph convolution (SemGCN).

Graph: the 21 OpenPose joints with the 20 bones of :data:`HAND_BONES` (each joint to its
parent in :data:`handpose.handmodel.conventions.OPENPOSE_PARENTS`). :func:`hand_adjacency`
gives the symmetric 0/1 adjacency (no self loops).

SemGCN layer (Zhao et al., "Semantic Graph Convolutional Networks for 3D Human Pose Regression",
CVPR 2019, Eq. 3; DIR's ``SemGCN/p_graph_conv.py`` as described in
../shared/reference/vision_methods.md §2.3): a learnable weight ``m_ij`` on every edge and self
loop, normalised per output node by a softmax over its neighbourhood
``a_ij = exp(m_ij) / Σ_{k ∈ N(i) ∪ {i}} exp(m_ik)``, and separate transforms for the node
itself and its neighbours. DIR's variant has **per-node** weights ``W ∈ R^{2×J×C_in×C_out}``
(each joint has its own self and neighbour transform, applied at the source joint):

    h'_i = a_ii · x_i W⁰_i + Σ_{j ∈ N(i)} a_ij · x_j W¹_j + b.

:class:`SemGCN` stacks ``num_layers`` of them, each followed by batch norm, ReLU and a residual
connection (DIR's ``ResSimplePGCN(adj, emd_dim=128, num_layers=4)``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.handmodel.conventions import NUM_OPENPOSE_JOINTS, OPENPOSE_PARENTS

__all__ = ["HAND_BONES", "hand_adjacency", "SemGraphConv", "SemGCN"]

# (parent, child) for the 20 bones of OpenPose-21, in child order 1 … 20.
HAND_BONES: tuple[tuple[int, int], ...] = tuple(
    (OPENPOSE_PARENTS[j], j) for j in range(1, NUM_OPENPOSE_JOINTS)
)


def hand_adjacency(num_joints: int = NUM_OPENPOSE_JOINTS) -> Tensor:
    """(J, J) float 0/1 symmetric adjacency of the hand skeleton, zero diagonal."""
    if num_joints != NUM_OPENPOSE_JOINTS:
        raise HandposeError(f"the hand graph has {NUM_OPENPOSE_JOINTS} joints, got {num_joints}.")
    adj = torch.zeros(num_joints, num_joints)
    for a, b in HAND_BONES:
        adj[a, b] = adj[b, a] = 1.0
    return adj


class SemGraphConv(nn.Module):
    """One semantic graph convolution with per-node weights (module docstring).

    Args:
        in_channels, out_channels: feature sizes.
        adjacency: (J, J) 0/1 adjacency without self loops (self loops are added).
    Input (..., J, C_in) → output (..., J, C_out).
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor) -> None:
        super().__init__()
        adj = torch.as_tensor(adjacency, dtype=torch.float32)
        J = adj.shape[0]
        if adj.shape != (J, J) or not torch.equal(adj, adj.T):
            raise HandposeError(
                f"adjacency must be a symmetric (J, J) matrix, got {tuple(adj.shape)}."
            )
        eye = torch.eye(J)
        self.register_buffer("self_mask", eye, persistent=False)
        self.register_buffer("edge_mask", ((adj > 0) & (eye == 0)).float(), persistent=False)
        # W[0]: self transform, W[1]: neighbour transform, one pair per joint.
        self.weight = nn.Parameter(torch.empty(2, J, in_channels, out_channels))
        bound = math.sqrt(6.0 / (in_channels + out_channels)) * 1.414
        nn.init.uniform_(self.weight, -bound, bound)
        # m_ij on the edges and self loops; 1 everywhere = uniform neighbourhood at init.
        self.edge_logits = nn.Parameter(torch.ones(J, J))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        stdv = 1.0 / math.sqrt(out_channels)
        nn.init.uniform_(self.bias, -stdv, stdv)

    def normalised_adjacency(self) -> Tensor:
        """(J, J) the softmax-normalised weights ``a_ij`` (zero off the graph)."""
        allowed = (self.self_mask + self.edge_mask) > 0
        logits = self.edge_logits.masked_fill(~allowed, float("-inf"))
        return torch.softmax(logits, dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        h_self = torch.einsum("...jc,jcd->...jd", x, self.weight[0])
        h_nbr = torch.einsum("...jc,jcd->...jd", x, self.weight[1])
        a = self.normalised_adjacency().to(x.dtype)
        out = (a * self.self_mask.to(x.dtype)).diagonal()[:, None] * h_self
        out = out + (a * self.edge_mask.to(x.dtype)) @ h_nbr
        return out + self.bias


class _GraphBlock(nn.Module):
    def __init__(self, channels: int, adjacency: Tensor) -> None:
        super().__init__()
        self.conv = SemGraphConv(channels, channels, adjacency)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: Tensor) -> Tensor:  # (B, J, C)
        h = self.conv(x)
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        return x + torch.relu(h)


class SemGCN(nn.Module):
    """``num_layers`` residual semantic graph convolutions over one hand's 21 joints.

    Args:
        channels: feature size (DIR: 128).
        num_layers: DIR: 4.
    Input and output (B, 21, C).
    """

    def __init__(self, channels: int = 128, num_layers: int = 4) -> None:
        super().__init__()
        adj = hand_adjacency()
        self.layers = nn.ModuleList(_GraphBlock(channels, adj) for _ in range(num_layers))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
