"""Tiny EHPE configurations for fast tests (input side 64 px)."""

from __future__ import annotations

import copy

TINY = {
    "backbone": "mobilenetv3_small_050",
    "tw_joints": "W+T",
    "tw": {"feature_stride": 8, "channels": 16, "stacks": 1, "depth": 2, "refine_levels": 4},
    "pg": {
        "dim": 32,
        "feature_dim": 16,
        "heads": 8,
        "fem_heads": 4,
        "fem_self_layers": 1,
        "fem_cross_layers": 1,
        "dropout": 0.0,
    },
}


def tiny(**changes) -> dict:
    """TINY with top-level keys replaced and ``tw`` / ``pg`` / ``backbone`` dicts merged."""
    cfg = copy.deepcopy(TINY)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg
