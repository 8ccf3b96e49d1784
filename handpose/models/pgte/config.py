"""The PGTE network's configuration (the ``model:`` section of a PGTE config).

Values fixed by the supplement (../shared/papers/002_b16189119b1abd24.txt) are marked
**[S]**; everything else is our choice where the supplement is silent (the main paper is not
available), documented on the field and kept configurable.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PGTENetConfig", "VibeNetConfig", "PLANES", "AGGREGATES"]

PLANES = ("tri", "single")
AGGREGATES = ("sum", "mean", "concat")
VIBE_POOLS = ("mean", "flatten")


def _check_patch_embed(kind: str) -> None:
    from handpose.models.pgte.embed import PATCH_EMBEDS

    if kind not in PATCH_EMBEDS:
        raise ValueError(f"patch_embed must be one of {PATCH_EMBEDS}, got {kind!r}")


@dataclass(frozen=True)
class PGTENetConfig:
    """The PGTE network.

    Attributes:
        hand_model: hand model whose mesh is regressed ("open": 1379 vertices, "mano": 778, or
            a model file); the vertex count, the joint regressor and the faces come from it.
        image_size: side S of the square input crop (the low-resolution crop is upsampled to
            it). The paper's ViTPose-B runs at 256×192; square crops here.
        embed_dim, depth, num_heads, mlp_ratio: the ViT **[S]**: 768-d tokens, 12 layers
            (ViTPose-B, 12 heads, MLP ratio 4).
        stem_channels: channels of the first conv of the patch embedding **[S]**: 64
            (Table 1: 7×7/4 → 64, padding 2; 3×3/2 → embed_dim, padding 1).
        patch_embed: "conv" (**[S]**, Table 1's two convolutions) or a backbone name
            (:data:`~handpose.models.pgte.embed.PATCH_EMBEDS`): its pretrained stages up to
            stride 8 and a 1×1 conv (:class:`~handpose.models.pgte.embed.PretrainedPatchEmbed`;
            our option for CPU presets, where the ViT cannot start from ViTPose's weights).
        patch_weights: the backbone's weights when ``patch_embed`` is one ("imagenet", a
            local file, or None: random).
        drop_path_rate: stochastic depth of the ViT blocks.
        num_deconv: 2× transposed convolutions from the ViT's stride-8 grid to the heatmaps
            (0: heatmaps at stride 8, i.e. 32×32 at 256 px, SAR's heatmap size).
        head_channels: channels c of the heatmap feature map the vertex heatmaps are read from.
        depth_range: metres; depth maps are ``depth_range/2 ·`` raw outputs and root-relative
            coordinates are normalised by ``depth_range/2`` (SAR's ``depth_box`` 0.3 m).
        temperature: soft-argmax temperature of eq. 1–2.
        prior_sigma: σ (heatmap cells) of the coarse-vertex prior added to the vertex heatmap
            logits, ``−‖p − p̂_k‖²/2σ²`` (0 disables it). Our choice: the supplement does not say
            how pose information reaches the vertex heatmaps; the prior centres each vertex's
            heatmap on the position predicted from the (temporally fused) joints.
        token_dim: width of the six pose-aware tokens (eq. 6).
        joint_dim: width of the per-joint features after the pose template split; also the
            triplane's channel count.
        window: frames per temporal window T (1 = the ``single`` variant). The time embedding
            has ``window`` slots; windows may be shorter.
        temporal_depth, temporal_heads: the temporal fusion transformer over the 6·T tokens.
        causal: a token at frame t attends only to frames ≤ t (streaming == offline).
        planes: "tri" (xy, xz, yz; eq. 4–5) or "single" (the xy plane only; Table 4).
        plane_size: R, cells per side of each plane.
        plane_spread: K of eq. 4 in plane cells (``softmax((K − d)/K)``; our reading: K is a
            distance scale, K = 2 cells).
        plane_convs: 3×3 residual conv layers within each plane (0 = "w/o conv" of Table 4).
        aggregate: how the three sampled plane features combine ("sum" as EG3D's paper,
            "mean" as its code, "concat").
        bone_length: wrist → middle-MCP length (m) for the root depth when none is given
            (0.0898 m: the open hand's mean shape).
    """

    hand_model: str = "open"
    image_size: int = 256
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    stem_channels: int = 64
    patch_embed: str = "conv"
    patch_weights: str | None = "imagenet"
    drop_path_rate: float = 0.0
    num_deconv: int = 0
    head_channels: int = 128
    depth_range: float = 0.3
    temperature: float = 1.0
    prior_sigma: float = 2.0
    token_dim: int = 256
    joint_dim: int = 64
    window: int = 16
    temporal_depth: int = 2
    temporal_heads: int = 8
    causal: bool = True
    planes: str = "tri"
    plane_size: int = 32
    plane_spread: float = 2.0
    plane_convs: int = 1
    aggregate: str = "sum"
    bone_length: float = 0.0898

    def __post_init__(self) -> None:
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16 px, got {self.image_size}")
        for name in ("embed_dim", "depth", "num_heads", "stem_channels", "head_channels",
                     "token_dim", "joint_dim", "window", "temporal_heads", "plane_size"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.embed_dim % self.num_heads or self.token_dim % self.temporal_heads:
            raise ValueError("embed_dim / token_dim must be divisible by their head counts")
        if self.num_deconv < 0 or self.temporal_depth < 0 or self.plane_convs < 0:
            raise ValueError("num_deconv, temporal_depth and plane_convs must be ≥ 0")
        if self.depth_range <= 0 or self.temperature <= 0 or self.bone_length <= 0:
            raise ValueError("depth_range, temperature and bone_length must be > 0")
        if self.prior_sigma < 0 or self.plane_spread <= 0:
            raise ValueError("prior_sigma must be ≥ 0 and plane_spread > 0")
        _check_patch_embed(self.patch_embed)
        if self.planes not in PLANES:
            raise ValueError(f"planes must be one of {PLANES}, got {self.planes!r}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")

    @property
    def heatmap_stride(self) -> float:
        """Input pixels per heatmap cell (8 / 2**num_deconv)."""
        return 8.0 / 2**self.num_deconv


@dataclass(frozen=True)
class VibeNetConfig:
    """The VIBE-style baseline of the supplement's Tables 2–3 ("VIBE + LR ViT"): the same conv
    patch-embedded ViT on the low-resolution crop, average-pooled per frame, a recurrent
    temporal encoder (VIBE: 2-layer unidirectional GRU, hidden 1024, a linear layer back to the
    feature width and a residual connection) and an HMR-style MANO parameter regressor with a
    weak-perspective camera. VIBE's adversarial motion discriminator is left out (no hand
    motion-capture prior is available; documented in :mod:`handpose.models.pgte.vibe`).

    Attributes:
        hand_model, image_size, embed_dim, depth, num_heads, mlp_ratio, stem_channels,
        patch_embed, patch_weights, drop_path_rate: as :class:`PGTENetConfig`.
        feature_dim: per-frame feature width after pooling.
        gru_hidden, gru_layers: the GRU.
        window: frames per window T.
        regressor_hidden: hidden width of the MANO parameter MLP.
        regressor_iterations: 1 for a one-shot MLP, n > 1 for HMR's iterative error feedback
            (VIBE's regressor: 3, as the presets set; the default 1 keeps checkpoints saved
            before the option loading).
        pool: how a frame's token map becomes one vector: ``mean`` (average over the tokens,
            as VIBE/HMR pool their CNN features) or ``flatten`` (a 1×1 convolution to
            ``pool_channels`` per token, then the flattened map: keeps where things are, which
            a narrow encoder's mean loses).
        pool_channels: channels per token for ``flatten``.
        bone_length: as :class:`PGTENetConfig` (unused when the root depth is given).
    """

    hand_model: str = "open"
    image_size: int = 256
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    stem_channels: int = 64
    patch_embed: str = "conv"
    patch_weights: str | None = "imagenet"
    drop_path_rate: float = 0.0
    feature_dim: int = 1024
    gru_hidden: int = 1024
    gru_layers: int = 2
    window: int = 16
    regressor_hidden: int = 1024
    regressor_iterations: int = 1
    pool: str = "mean"
    pool_channels: int = 16
    bone_length: float = 0.0898

    def __post_init__(self) -> None:
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16 px, got {self.image_size}")
        for name in ("embed_dim", "depth", "num_heads", "stem_channels", "feature_dim",
                     "gru_hidden", "gru_layers", "window", "regressor_hidden",
                     "regressor_iterations", "pool_channels"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.embed_dim % self.num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        if self.pool not in VIBE_POOLS:
            raise ValueError(f"pool must be one of {VIBE_POOLS}, got {self.pool!r}")
        _check_patch_embed(self.patch_embed)
