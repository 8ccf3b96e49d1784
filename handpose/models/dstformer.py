"""MotionBERT's DSTformer: a dual-stream spatio-temporal transformer over (frames × tokens).

A re-implementation from the description of ``lib/model/DSTformer.py`` in Walter0807/MotionBERT
(Zhu et al., ICCV 2023; ../shared/reference/mgdhand.md §1). The structure is reproduced exactly:

- ``joints_embed`` = Linear(C_in, d) per token, plus a learned spatial positional embedding
  ``pos_embed`` (1, J, d) and a learned temporal one ``temp_embed`` (1, maxlen, 1, d), both
  trunc-normal(std 0.02); any clip length F ≤ maxlen.
- Attention with one fused ``qkv`` Linear(d, 3d) and ``proj`` Linear(d, d), scale head_dim^-½.
  *Spatial* attention mixes the J tokens of one frame; *temporal* attention mixes the F frames of
  one token (no causal mask).
- A :class:`Block` holds a spatial and a temporal pre-LN sub-layer pair (attention + MLP each, with
  residuals and DropPath). ``stage_st`` runs spatial then temporal, ``stage_ts`` the reverse.
- Two stacks of ``depth`` blocks (``blocks_st``, ``blocks_ts``). At every depth both stacks read
  the same input, and their outputs are fused **per token** by α = softmax(Linear(2d→2)([x_st‖x_ts])),
  with the Linear initialised to weight 0, bias 0.5 (α = 0.5/0.5 at step 0) *after* the global
  trunc-normal init. The fused x feeds both stacks at the next depth.
- Final LayerNorm, optional representation ``pre_logits`` = Linear(d, R) + Tanh, optional
  ``head`` = Linear(R, C_out). LayerNorm eps 1e-6 (MotionBERT's ``load_backbone``).

Parameter count (pinned by ``tests/models/test_dstformer.py``, mgdhand.md §1.7): one Block has
(8 + 4r)·d² + (18 + 2r)·d parameters; the whole model has
2·depth·Block + (C_in·d + d) + 2d + (d·R + R) + (R·C_out + C_out) + T·d + J·d + depth·(4d + 2).

Tensors are laid out (B, F, J, d) throughout; spatial attention sees (B·F, J, d) and temporal
attention (B·J, F, d). This is the same computation as MotionBERT's in-place reshapes.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "Attention",
    "Mlp",
    "Block",
    "DSTformer",
    "drop_path",
    "dstformer_num_params",
    "trunc_normal_init",
]


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples of a residual branch with probability ``p``.

    Args:
        x: (B, ...) residual branch output.
    Returns:
        (B, ...) with kept samples scaled by 1/(1-p) so the expectation is unchanged.
    """
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


def trunc_normal_init(module: nn.Module) -> None:
    """MotionBERT's ``_init_weights``: Linear weight ~ trunc-normal(0.02), bias 0; LN 1/0.

    As in timm's ``trunc_normal_`` that MotionBERT calls, the cut-offs are the absolute values
    ±2 (i.e. ±100σ), so in practice this is a plain normal with σ = 0.02.
    """
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class Mlp(nn.Module):
    """Linear(d, r·d) → GELU → Dropout → Linear(r·d, d) → Dropout, per token."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis of a (N, L, d) tensor.

    Written out (q·kᵀ·scale → softmax → ·v) rather than through ``scaled_dot_product_attention``
    so that the attention map can be returned (SCJD-style distillation) and so that
    ``FlopCounterMode`` counts it on every backend.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor, return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Args: x (N, L, d). Returns (N, L, d) [and the attention map (N, heads, L, L)]."""
        n, length, dim = x.shape
        h = self.num_heads
        qkv = self.qkv(x).reshape(n, length, 3, h, dim // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (N, h, L, c)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        out = self.attn_drop(attn) @ v
        out = self.proj_drop(self.proj(out.transpose(1, 2).reshape(n, length, dim)))
        return (out, attn) if return_attention else out


def _spatial(fn, x: Tensor) -> Tensor:
    """Apply a (N, L, d) → (N, L, d) function over the tokens of each frame of (B, F, J, d)."""
    b, f, j, d = x.shape
    return fn(x.reshape(b * f, j, d)).reshape(b, f, j, d)


def _temporal(fn, x: Tensor) -> Tensor:
    """Apply a (N, L, d) → (N, L, d) function over the frames of each token of (B, F, J, d)."""
    b, f, j, d = x.shape
    y = fn(x.transpose(1, 2).reshape(b * j, f, d))
    return y.reshape(b, j, f, d).transpose(1, 2)


class Block(nn.Module):
    """One DSTformer block: a spatial and a temporal pre-LN transformer sub-layer.

    ``st_mode="stage_st"``: x += S-MHSA(LN x); x += MLP_s(LN x); x += T-MHSA(LN x); x += MLP_t(LN x).
    ``st_mode="stage_ts"``: the temporal pair first.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        st_mode: Literal["stage_st", "stage_ts"] = "stage_st",
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if st_mode not in ("stage_st", "stage_ts"):
            raise ValueError(f"st_mode must be 'stage_st' or 'stage_ts', got {st_mode!r}")
        self.st_mode = st_mode
        hidden = int(dim * mlp_ratio)
        self.norm1_s = nn.LayerNorm(dim, eps=norm_eps)
        self.attn_s = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.norm2_s = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp_s = Mlp(dim, hidden, drop)
        self.norm1_t = nn.LayerNorm(dim, eps=norm_eps)
        self.attn_t = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.norm2_t = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp_t = Mlp(dim, hidden, drop)
        self.drop_path = drop_path

    def _res(self, x: Tensor, y: Tensor) -> Tensor:
        return x + drop_path(y, self.drop_path, self.training)

    def spatial(self, x: Tensor) -> Tensor:
        x = self._res(x, _spatial(self.attn_s, self.norm1_s(x)))
        return self._res(x, self.mlp_s(self.norm2_s(x)))

    def temporal(self, x: Tensor) -> Tensor:
        x = self._res(x, _temporal(self.attn_t, self.norm1_t(x)))
        return self._res(x, self.mlp_t(self.norm2_t(x)))

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, F, J, d). Returns (B, F, J, d)."""
        if self.st_mode == "stage_st":
            return self.temporal(self.spatial(x))
        return self.spatial(self.temporal(x))

    def spatial_attention_map(self, x: Tensor) -> Tensor:
        """The spatial attention weights this block would use on x: (B, F, heads, J, J)."""
        b, f, j, d = x.shape
        _, attn = self.attn_s(self.norm1_s(x).reshape(b * f, j, d), return_attention=True)
        return attn.reshape(b, f, *attn.shape[1:])


class DSTformer(nn.Module):
    """MotionBERT's dual-stream spatio-temporal transformer.

    Args:
        dim_in: C_in, channels per input token.
        dim_out: C_out of the final ``head``; None drops the head (features or representation out).
        dim_feat: d, the token width.
        dim_rep: R, width of the Linear+Tanh representation; None drops it (and the head reads d).
        depth: blocks per stream.
        num_heads: attention heads (d must be divisible).
        mlp_ratio: r, MLP hidden = r·d.
        num_joints: J, tokens per frame (size of ``pos_embed``).
        maxlen: T, longest clip (size of ``temp_embed``).
        att_fuse: learned per-token fusion (MotionBERT's default True); False = 0.5·(x_st + x_ts).

    Example:
        >>> net = DSTformer(dim_in=3, dim_out=3, dim_feat=32, dim_rep=32, depth=1,
        ...                 num_heads=4, num_joints=17, maxlen=27)
        >>> net(torch.randn(2, 27, 17, 3)).shape
        torch.Size([2, 27, 17, 3])
    """

    def __init__(
        self,
        dim_in: int = 3,
        dim_out: int | None = 3,
        dim_feat: int = 256,
        dim_rep: int | None = 512,
        depth: int = 5,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        num_joints: int = 17,
        maxlen: int = 243,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        att_fuse: bool = True,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.dim_feat = dim_feat
        self.num_joints = num_joints
        self.maxlen = maxlen
        self.depth = depth
        self.att_fuse = att_fuse
        self.joints_embed = nn.Linear(dim_in, dim_feat)
        self.pos_drop = nn.Dropout(drop_rate)
        # Stochastic depth rises linearly from 0 to drop_path_rate over the depth (MotionBERT).
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        kw = dict(
            dim=dim_feat,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            drop=drop_rate,
            attn_drop=attn_drop_rate,
            norm_eps=norm_eps,
        )
        self.blocks_st = nn.ModuleList(
            [Block(drop_path=dpr[i], st_mode="stage_st", **kw) for i in range(depth)]
        )
        self.blocks_ts = nn.ModuleList(
            [Block(drop_path=dpr[i], st_mode="stage_ts", **kw) for i in range(depth)]
        )
        self.norm = nn.LayerNorm(dim_feat, eps=norm_eps)
        if dim_rep is not None:
            self.pre_logits: nn.Module = nn.Sequential(nn.Linear(dim_feat, dim_rep), nn.Tanh())
            head_in = dim_rep
        else:
            self.pre_logits = nn.Identity()
            head_in = dim_feat
        self.head: nn.Module = nn.Linear(head_in, dim_out) if dim_out is not None else nn.Identity()
        self.dim_rep = head_in
        self.temp_embed = nn.Parameter(torch.zeros(1, maxlen, 1, dim_feat))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim_feat))
        nn.init.trunc_normal_(self.temp_embed, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.apply(trunc_normal_init)
        if att_fuse:
            self.ts_attn = nn.ModuleList([nn.Linear(2 * dim_feat, 2) for _ in range(depth)])
            # After the global init, so that α starts at exactly 0.5/0.5 (mgdhand.md §1.4).
            for lin in self.ts_attn:
                nn.init.zeros_(lin.weight)
                nn.init.constant_(lin.bias, 0.5)

    def embed(
        self, x: Tensor, token_mask: Tensor | None = None, mask_token: Tensor | None = None
    ) -> Tensor:
        """Token embedding plus spatial and temporal positional embeddings.

        Args:
            x: (B, F, J, C_in) with F ≤ maxlen and J = num_joints.
            token_mask: optional (B, F, J) bool; True entries have their embedding replaced by
                ``mask_token`` *before* the positional embeddings are added (so a masked token
                still knows where and when it is).
            mask_token: (d,) learned replacement, or any tensor broadcasting to
                (B, F, J, d); required with ``token_mask``.
        Returns:
            (B, F, J, d)
        """
        b, f, j, _ = x.shape
        if j != self.num_joints:
            raise ValueError(f"expected {self.num_joints} tokens per frame, got {j}")
        if f > self.maxlen:
            raise ValueError(f"clip of {f} frames is longer than maxlen {self.maxlen}")
        h = self.joints_embed(x)
        if token_mask is not None:
            if mask_token is None:
                raise ValueError("token_mask needs a mask_token")
            h = torch.where(token_mask[..., None], mask_token.to(h.dtype), h)
        h = h + self.pos_embed[:, None]
        h = h + self.temp_embed[:, :f]
        return self.pos_drop(h)

    def fusion_weights(self, depth_index: int, x_st: Tensor, x_ts: Tensor) -> Tensor:
        """α (…, 2): per-token softmax over the two streams at one depth."""
        if not self.att_fuse:
            return torch.full((*x_st.shape[:-1], 2), 0.5, dtype=x_st.dtype, device=x_st.device)
        return self.ts_attn[depth_index](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)

    def encode(self, h: Tensor) -> Tensor:
        """Run both streams with per-depth fusion and the final LayerNorm.

        The blocks do not depend on J, so ``encode`` also serves token sets embedded elsewhere
        (the MGDHand teacher shares one trunk between its MANO and IMU streams).

        Args:
            h: (B, F, J', d) embedded tokens, any J'.
        Returns:
            (B, F, J', d)
        """
        for i, (blk_st, blk_ts) in enumerate(zip(self.blocks_st, self.blocks_ts)):
            x_st = blk_st(h)
            x_ts = blk_ts(h)
            alpha = self.fusion_weights(i, x_st, x_ts)
            h = x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
        return self.norm(h)

    def forward(self, x: Tensor, return_rep: bool = False) -> Tensor:
        """Args: x (B, F, J, C_in). Returns (B, F, J, C_out), or (B, F, J, R) if return_rep."""
        rep = self.pre_logits(self.encode(self.embed(x)))
        return rep if return_rep else self.head(rep)

    def get_representation(self, x: Tensor) -> Tensor:
        """MotionBERT's ``get_representation``: (B, F, J, C_in) → (B, F, J, R)."""
        return self.forward(x, return_rep=True)


def dstformer_num_params(
    dim_in: int,
    dim_out: int,
    dim_feat: int,
    dim_rep: int,
    depth: int,
    mlp_ratio: float,
    num_joints: int,
    maxlen: int,
) -> int:
    """Closed-form parameter count of :class:`DSTformer` (mgdhand.md §1.7, qkv_bias=True)."""
    d, r = dim_feat, mlp_ratio
    block = int((8 + 4 * r) * d * d + (18 + 2 * r) * d)
    return (
        2 * depth * block
        + (dim_in * d + d)
        + 2 * d
        + (d * dim_rep + dim_rep)
        + (dim_rep * dim_out + dim_out)
        + maxlen * d
        + num_joints * d
        + depth * (4 * d + 2)
    )


def _attend(qkv: Tensor, shape: tuple[int, int, int], axis: str, heads: int, scale: float):
    """Attention of one stream from its fused q, k, v: (N, 3d) → (N, d), N = B·F·J tokens in
    (B, F, J) order; ``axis="spatial"`` mixes the J tokens of a frame, ``"temporal"`` the F
    frames of a token (the same arithmetic as :class:`Attention`)."""
    b, f, j = shape
    d = qkv.shape[-1] // 3
    c = d // heads
    x = qkv.view(b, f, j, 3, heads, c)
    if axis == "spatial":  # (3, B·F, heads, J, c)
        q, k, v = x.permute(3, 0, 1, 4, 2, 5).reshape(3, b * f, heads, j, c).unbind(0)
    else:  # (3, B·J, heads, F, c)
        q, k, v = x.permute(3, 0, 2, 4, 1, 5).reshape(3, b * j, heads, f, c).unbind(0)
    out = ((q @ k.transpose(-2, -1)) * scale).softmax(dim=-1) @ v  # (groups, heads, L, c)
    if axis == "spatial":
        return out.transpose(1, 2).reshape(b * f * j, d)
    return out.view(b, j, heads, f, c).permute(0, 3, 1, 2, 4).reshape(b * f * j, d)


class LockstepEncoder(nn.Module):
    """:meth:`DSTformer.encode` for inference, with the two streams run side by side.

    The ST and TS stacks of a depth read the same input and have the same layer shapes, so
    their sub-layers can run in lockstep: step s of both (ST: S-attention, S-MLP, T-attention,
    T-MLP; TS: the temporal pair first) as *one* batched product per linear layer over the two
    streams (``baddbmm`` with stacked weights), each stream then attending along its own axis.
    The same arithmetic as ``encode`` (outputs equal to float rounding, tested); one batched
    GEMM instead of two small ones lets the BLAS give each stream a core at batch 1.

    The stacked weights are copies made here: build it from the trained network, in eval mode
    (no dropout, no DropPath); later changes to ``net`` do not reach it.

    Args:
        net: a :class:`DSTformer`.
    """

    def __init__(self, net: DSTformer) -> None:
        super().__init__()
        self.depth, self.att_fuse = net.depth, net.att_fuse
        blk = net.blocks_st[0]
        self.heads, self.scale = blk.attn_s.num_heads, blk.attn_s.scale
        self.norm = net.norm
        d = self.dim = net.dim_feat

        def stack(*tensors):  # (2, ...) with Linear weights transposed to (in, out)
            return nn.Parameter(torch.stack([t.detach().clone() for t in tensors]), False)

        self.steps = nn.ModuleList()
        self.axes: list[tuple[str, str] | None] = []
        for st, ts in zip(net.blocks_st, net.blocks_ts):
            subs_st = [("spatial", st.norm1_s, st.attn_s), (st.norm2_s, st.mlp_s),
                       ("temporal", st.norm1_t, st.attn_t), (st.norm2_t, st.mlp_t)]  # fmt: skip
            subs_ts = [("temporal", ts.norm1_t, ts.attn_t), (ts.norm2_t, ts.mlp_t),
                       ("spatial", ts.norm1_s, ts.attn_s), (ts.norm2_s, ts.mlp_s)]  # fmt: skip
            for a, b in zip(subs_st, subs_ts):
                step = nn.Module()
                if len(a) == 3:  # attention
                    (ax_a, na, la), (ax_b, nb, lb) = a, b
                    self.axes.append((ax_a, ax_b))
                    w1, b1, w2, b2 = la.qkv, la.qkv, la.proj, la.proj
                    m1, m2 = lb.qkv, lb.proj
                else:  # MLP
                    (na, la), (nb, lb) = a, b
                    self.axes.append(None)
                    w1, b1, w2, b2 = la.fc1, la.fc1, la.fc2, la.fc2
                    m1, m2 = lb.fc1, lb.fc2
                step.eps = na.eps
                step.gamma = stack(na.weight, nb.weight).unsqueeze(1)  # (2, 1, d)
                step.beta = stack(na.bias, nb.bias).unsqueeze(1)
                step.w1 = stack(w1.weight.T, m1.weight.T)  # (2, d, out)
                step.b1 = stack(b1.bias, m1.bias).unsqueeze(1)
                step.w2 = stack(w2.weight.T, m2.weight.T)
                step.b2 = stack(b2.bias, m2.bias).unsqueeze(1)
                self.steps.append(step)
        if net.att_fuse:
            # α = softmax([x_st ‖ x_ts]·Wᵀ + b) = softmax(x_st·W_aᵀ + x_ts·W_bᵀ + b)
            self.fuse_w = nn.ParameterList(
                [stack(f.weight[:, :d].T, f.weight[:, d:].T) for f in net.ts_attn]
            )
            self.fuse_b = nn.ParameterList([nn.Parameter(f.bias.detach().clone(), False)
                                            for f in net.ts_attn])  # fmt: skip

    def forward(self, h: Tensor) -> Tensor:
        """Args: h (B, F, J, d) embedded tokens. Returns (B, F, J, d), as ``net.encode(h)``."""
        b, f, j, _ = h.shape
        d = self.dim  # a Python int: static in a traced (ONNX) graph
        n = b * f * j
        x = h.reshape(1, n, d).expand(2, n, d)
        for i in range(self.depth):
            for s in range(4):
                step, axes = self.steps[4 * i + s], self.axes[4 * i + s]
                y = nn.functional.layer_norm(x, (d,), eps=step.eps) * step.gamma + step.beta
                y = torch.baddbmm(step.b1, y, step.w1)
                if axes is not None:
                    y = torch.stack(
                        [
                            _attend(y[k], (b, f, j), axes[k], self.heads, self.scale)
                            for k in range(2)
                        ]  # fmt: skip
                    )
                else:
                    y = nn.functional.gelu(y)
                x = x + torch.baddbmm(step.b2, y, step.w2)
            if self.att_fuse:
                logits = torch.bmm(x, self.fuse_w[i]).sum(0) + self.fuse_b[i]
                alpha = logits.softmax(dim=-1)
                hh = x[0] * alpha[:, 0:1] + x[1] * alpha[:, 1:2]
            else:
                hh = 0.5 * (x[0] + x[1])
            x = hh.unsqueeze(0).expand(2, n, d)
        return self.norm(x[0]).view(b, f, j, d)
