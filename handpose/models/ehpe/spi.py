"""Structural Prior based Inference (SPI): graph attention over the 21 hand joints (EHPE §3.3.2).

**Graph.** Nodes are the OpenPose-21 joints; edges are the 20 bones
(:data:`handpose.handmodel.conventions.OPENPOSE_PARENTS`). Layer ``l`` (1-based) aggregates over
the ``l``-hop neighbourhood including the node itself (:func:`hop_neighbourhood`): the paper's
first layer "aggregates features from immediate neighbors" and its second "extends aggregation
to two-hop neighbors". With the TW joints at the chain ends this lets two layers carry the tip
and wrist information to every joint (an MCP is three bones from its tip: 1 + 2 hops). A flag
keeps every layer at one hop instead.

**Attention (eq. 8, 9).** Per head k (K heads, concatenated)::

    e_ij^k = LeakyReLU_0.2(a^kᵀ [W^k h_i ‖ W^k h_j]),  α_ij^k = softmax_{j ∈ N(i)} e_ij^k,
    h_i' = ‖_k Σ_{j ∈ N(i)} α_ij^k W^k h_j

(Veličković et al., GAT [45]; the paper calls the scores "dot-product" but writes GAT's
additive form, which we follow). The **fixed** variant (Table 6, first row) replaces α by the
constant ``1/|N(i)|`` (mean over the neighbourhood; no attention parameters).

**Cross-layer fusion (eq. 10).** ``h^(l+1) = σ(GAT^(l+1)(h^(l)) + W_skip^(l) h^(0))`` with σ =
ELU (GAT's non-linearity; the paper leaves σ open): eq. 10's ``W^(l+1) h^(l)`` is the layer's
attention aggregation of eq. 8, and every layer also sees the input features h^(0).

The functional core (:func:`graph_attention`) takes explicit weights so that it can be checked
on a hand-computed graph; :class:`GraphAttention` and :class:`SPI` are thin modules over it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.handmodel.conventions import OPENPOSE_PARENTS

__all__ = [
    "skeleton_edges",
    "skeleton_adjacency",
    "hop_neighbourhood",
    "graph_attention",
    "GraphAttention",
    "SPI",
]


def skeleton_edges(parents: tuple[int, ...] = OPENPOSE_PARENTS) -> list[tuple[int, int]]:
    """The bones as (parent, child) pairs (20 for OpenPose-21)."""
    return [(p, c) for c, p in enumerate(parents) if p >= 0]


def skeleton_adjacency(parents: tuple[int, ...] = OPENPOSE_PARENTS) -> Tensor:
    """(N, N) bool, symmetric, True on bones, False on the diagonal."""
    n = len(parents)
    adj = torch.zeros(n, n, dtype=torch.bool)
    for p, c in skeleton_edges(parents):
        adj[p, c] = adj[c, p] = True
    return adj


def hop_neighbourhood(adjacency: Tensor, hops: int) -> Tensor:
    """(N, N) bool: j within ``hops`` edges of i (the diagonal included).

    Example:
        >>> chain = torch.tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.bool)
        >>> hop_neighbourhood(chain, 1).int().tolist()
        [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
    """
    if hops < 0:
        raise HandposeError(f"hops must be ≥ 0, got {hops}.")
    n = adjacency.shape[0]
    reach = torch.eye(n, dtype=torch.bool)
    step = adjacency.to(torch.bool) | reach
    for _ in range(hops):
        reach = (reach.float() @ step.float()) > 0
    return reach


def graph_attention(
    h: Tensor,
    weight: Tensor,
    mask: Tensor,
    att_src: Tensor | None = None,
    att_dst: Tensor | None = None,
    negative_slope: float = 0.2,
    dropout: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, Tensor]:
    """Multi-head graph attention (eq. 8, 9), or fixed mean aggregation without ``att_*``.

    Args:
        h: (..., N, D_in) node features.
        weight: (K, D_in, D_h) the per-head W^k.
        mask: (N, N) bool, ``mask[i, j]``: node i aggregates node j (every row needs a True).
        att_src, att_dst: (K, D_h) the halves of a^k acting on W^k h_j and W^k h_i; both None
            gives the fixed variant α_ij = 1/|N(i)|.
        negative_slope: LeakyReLU slope (GAT: 0.2).
        dropout: on the attention coefficients (training only).
    Returns:
        ``(out, alpha)``: out (..., N, K·D_h) (heads concatenated, head-major), alpha
        (..., K, N, N) the edge weights (0 outside the mask; rows sum to 1).
    """
    if (att_src is None) != (att_dst is None):
        raise HandposeError("graph_attention needs both att_src and att_dst, or neither.")
    wh = torch.einsum("...nd,kde->...kne", h, weight)  # (..., K, N, D_h)
    m = mask.to(torch.bool)
    if att_src is None:
        alpha = m.to(h.dtype) / m.sum(-1, keepdim=True).to(h.dtype)
        alpha = alpha.expand(*wh.shape[:-2], *m.shape)
    else:
        src = torch.einsum("...kne,ke->...kn", wh, att_src)  # a_srcᵀ W h_j
        dst = torch.einsum("...kne,ke->...kn", wh, att_dst)  # a_dstᵀ W h_i
        scores = F.leaky_relu(dst[..., :, None] + src[..., None, :], negative_slope)
        scores = scores.masked_fill(~m, float("-inf"))
        alpha = torch.softmax(scores, dim=-1)
    used = F.dropout(alpha, dropout, training) if dropout > 0 else alpha
    out = used @ wh  # (..., K, N, D_h)
    out = out.transpose(-3, -2)  # (..., N, K, D_h)
    return out.reshape(*out.shape[:-2], -1), alpha


class GraphAttention(nn.Module):
    """One layer of :func:`graph_attention` with its parameters.

    Args:
        in_dim: D_in; out_dim: K·D_h (divisible by ``heads``).
        heads: K.
        dynamic: attention weights (eq. 9) or the fixed mean.
    """

    def __init__(
        self, in_dim: int, out_dim: int, heads: int, dynamic: bool = True, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if out_dim % heads:
            raise HandposeError(f"out_dim {out_dim} must be divisible by heads {heads}.")
        d_h = out_dim // heads
        self.weight = nn.Parameter(torch.empty(heads, in_dim, d_h))
        nn.init.xavier_uniform_(self.weight.view(heads * in_dim, d_h))
        self.dynamic = dynamic
        if dynamic:
            self.att_src = nn.Parameter(torch.empty(heads, d_h))
            self.att_dst = nn.Parameter(torch.empty(heads, d_h))
            nn.init.xavier_uniform_(self.att_src)
            nn.init.xavier_uniform_(self.att_dst)
        self.dropout = float(dropout)

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        src = self.att_src if self.dynamic else None
        dst = self.att_dst if self.dynamic else None
        return graph_attention(
            h, self.weight, mask, src, dst, dropout=self.dropout, training=self.training
        )


class SPI(nn.Module):
    """The SPI branch's graph layers with the cross-layer fusion of eq. 10.

    Args:
        dim: node width (input and every layer).
        layers: graph-attention layers (Table 6: 1, 2, 3).
        heads: K (eq. 8: 8).
        dynamic: dynamic (eq. 9) or fixed edge weights.
        multi_hop: layer l over the l-hop neighbourhood (else 1 hop everywhere).
        dropout: attention dropout.
    Forward: h0 (..., 21, dim) → (h_L (..., 21, dim), [alpha (..., K, 21, 21) per layer]).
    """

    def __init__(
        self,
        dim: int,
        layers: int = 2,
        heads: int = 8,
        dynamic: bool = True,
        multi_hop: bool = True,
        dropout: float = 0.0,
        parents: tuple[int, ...] = OPENPOSE_PARENTS,
    ) -> None:
        super().__init__()
        adj = skeleton_adjacency(parents)
        masks = torch.stack(
            [hop_neighbourhood(adj, i + 1 if multi_hop else 1) for i in range(layers)]
        )
        self.register_buffer("masks", masks, persistent=False)
        self.layers = nn.ModuleList(
            GraphAttention(dim, dim, heads, dynamic, dropout) for _ in range(layers)
        )
        self.skips = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(layers))

    def forward(self, h0: Tensor) -> tuple[Tensor, list[Tensor]]:
        h = h0
        alphas = []
        for layer, skip, mask in zip(self.layers, self.skips, self.masks):
            agg, alpha = layer(h, mask)
            h = F.elu(agg + skip(h0))
            alphas.append(alpha)
        return h, alphas
