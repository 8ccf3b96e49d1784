"""Tiny PGTE / VIBE-style configurations and inputs for the tests."""

from __future__ import annotations

import torch

from handpose.models.pgte import PGTENetConfig, VibeNetConfig

S = 32


def tiny_config(**kw) -> PGTENetConfig:
    base = dict(
        image_size=S, embed_dim=32, depth=1, num_heads=2, stem_channels=8, num_deconv=1,
        head_channels=8, token_dim=16, joint_dim=8, window=4, temporal_depth=1,
        temporal_heads=2, plane_size=8,
    )  # fmt: skip
    base.update(kw)
    return PGTENetConfig(**base)


def tiny_vibe_config(**kw) -> VibeNetConfig:
    base = dict(
        image_size=S, embed_dim=32, depth=1, num_heads=2, stem_channels=8, feature_dim=16,
        gru_hidden=16, gru_layers=2, window=4, regressor_hidden=16,
    )  # fmt: skip
    base.update(kw)
    return VibeNetConfig(**base)


def crop_K(batch: tuple[int, ...] = (), f: float = 60.0, dtype=torch.float32) -> torch.Tensor:
    K = torch.tensor([[f, 0.0, (S - 1) / 2], [0.0, f, (S - 1) / 2], [0.0, 0.0, 1.0]], dtype=dtype)
    return K.expand(*batch, 3, 3).clone()


def frames(n: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, S, S, generator=g).to(dtype)


def sensitive(model):
    """Larger weights in the zero- / small-initialised output layers, so that every input
    visibly moves the outputs (causality tests need a change to be detectable)."""
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for p in (model.refine.weight, model.vertex_head.mlp[-1].weight):
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
    return model
