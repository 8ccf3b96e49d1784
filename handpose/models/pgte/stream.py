"""Streaming and whole-video inference for the windowed video models (PGTE, the VIBE-style
baseline): one new frame per step over a sliding window of T frames.

Both models split into ``encode`` (one frame: backbone and everything per frame), ``fuse``
(the causal temporal module over a window's per-frame tokens) and ``decode`` (one frame from
its fused token). Frame t is predicted from the window of frames ``max(0, t−T+1) … t`` — the
same computation in three modes:

- :class:`WindowStream` (live): ``step(frame)`` encodes only the new frame, keeps the last T
  frames' encodings in a ring buffer (the cached per-frame features), fuses the window and
  decodes the newest frame. Per step: one backbone pass, one temporal pass over ≤ T frames.
- :func:`run_sequence` (file mode): encodes every frame once (in chunks), fuses every window
  (batched), decodes every frame.
- the training forward on a window: frame t of a window starting at 0 sees frames 0 … t.

With a causal temporal module (PGTE's default; the GRU is causal by construction) the three
agree to rounding (tested); a non-causal PGTE would let the first T−1 frames of a file see
later frames of the first window.
"""

from __future__ import annotations

from collections import deque

import torch
from torch import Tensor

from handpose.errors import HandposeError

__all__ = ["WindowStream", "run_sequence", "window_starts", "window_forward", "FrameFields"]


class FrameFields:
    """Mixin for the models' output dataclasses: every field has the frame axes first."""

    def reshape(self, *lead: int):
        """Every field with its leading (frame) axis replaced by ``lead``."""
        from dataclasses import fields

        return type(self)(
            **{
                f.name: getattr(self, f.name).reshape(*lead, *getattr(self, f.name).shape[1:])
                for f in fields(self)
            }  # fmt: skip
        )

    def flatten_frames(self):
        """(B, T, ...) fields → (B·T, ...)."""
        from dataclasses import fields

        return type(self)(**{f.name: getattr(self, f.name).flatten(0, 1) for f in fields(self)})


def window_forward(model, images: Tensor, K: Tensor, root_depth=None, side=None, **decode_kw):
    """The training / offline forward of a windowed model: windows (B, T, 3, S, S), K
    (B, T, 3, 3), root depths (B, T), sides (B,) or (B, T) → the output with (B, T, ...)
    fields (frame t of a window from frames ≤ t with a causal temporal module); 4D images
    (B, 3, S, S) with K (B, 3, 3) are one frame per sample and give (B, ...) fields."""
    single = images.ndim == 4
    if single:
        images, K = images[:, None], K[:, None]
        root_depth = None if root_depth is None else root_depth.reshape(-1, 1)
    if images.ndim != 5:
        raise HandposeError(
            f"the model takes windows (B, T, 3, S, S) or frames (B, 3, S, S), got {tuple(images.shape)}."
        )
    b, t = images.shape[:2]
    if not torch.jit.is_tracing() and tuple(K.shape) != (b, t, 3, 3):
        raise HandposeError(f"K must have shape ({b}, {t}, 3, 3), got {tuple(K.shape)}.")
    enc = model.encode(images.reshape(b * t, *images.shape[2:]))
    fused = model.fuse(enc.tokens.reshape(b, t, *enc.tokens.shape[1:]))
    fused = fused.reshape(b * t, *fused.shape[2:])
    if side is not None:
        side = side.reshape(b, -1).expand(b, t).reshape(b * t)
    rd = None if root_depth is None else root_depth.reshape(b * t)
    out = model.decode(enc, fused, K.reshape(b * t, 3, 3), rd, side, **decode_kw)
    return out.reshape(b) if single else out.reshape(b, t)


def window_starts(num_frames: int, window: int) -> Tensor:
    """(F,) int64 first frame of the window that predicts each frame: ``max(0, t − T + 1)``."""
    return (torch.arange(num_frames) - window + 1).clamp(min=0)


class WindowStream:
    """Live inference, one frame per :meth:`step`.

    Args:
        model: a PGTE or VIBE-style model (in eval mode; gradients are not tracked).
        window: frames per window (default: the model's).

    Example:
        >>> stream = WindowStream(model)  # doctest: +SKIP
        >>> for image, K in frames:  # (1, 3, S, S), (1, 3, 3)  # doctest: +SKIP
        ...     out = stream.step(image, K)
    """

    def __init__(self, model, window: int | None = None) -> None:
        self.model = model
        self.window = int(window or model.window)
        if not 1 <= self.window <= int(model.window):
            raise HandposeError(
                f"window must be between 1 and the model's {model.window} frames, got {window}."
            )
        self.cache: deque = deque(maxlen=self.window)

    def reset(self) -> None:
        """Forget the history (a new video, or the hand was lost)."""
        self.cache.clear()

    @torch.no_grad()
    def step(
        self,
        image: Tensor,
        K: Tensor,
        root_depth: Tensor | None = None,
        side: Tensor | None = None,
    ):
        """One new frame (B, 3, S, S) with K (B, 3, 3) [root depth (B,), side (B,)] → the
        model's output for this frame with (B, ...) fields."""
        enc = self.model.encode(image)
        self.cache.append(enc)
        tokens = torch.stack([e.tokens for e in self.cache], dim=1)  # (B, n, ...)
        fused = self.model.fuse(tokens)[:, -1]
        return self.model.decode(enc, fused, K, root_depth, side)


@torch.no_grad()
def run_sequence(
    model,
    images: Tensor,
    K: Tensor,
    root_depth: Tensor | None = None,
    side: Tensor | None = None,
    *,
    window: int | None = None,
    chunk: int = 32,
):
    """File mode: every frame of one video, each from its causal window.

    Args:
        model: PGTE or the VIBE-style baseline (eval mode).
        images: (F, 3, S, S) crops; K: (F, 3, 3); root_depth: (F,) or None; side: (F,) or
            None.
        window: frames per window (default: the model's).
        chunk: frames encoded / decoded per batch.
    Returns:
        the model's output with (F, ...) fields.
    """
    T = int(window or model.window)
    F = int(images.shape[0])
    if F == 0:
        raise HandposeError("run_sequence needs at least one frame.")
    enc = type(model.encode(images[:1])).cat(
        [model.encode(images[i : i + chunk]) for i in range(0, F, chunk)]
    )
    tokens = enc.tokens  # (F, ...)
    first = model.fuse(tokens[None, : min(T, F)])[0]  # frames 0 … min(T, F) − 1
    parts = [first]
    if F > T:
        # windows starting at 1 … F − T; the last frame of each is frame start + T − 1
        idx = torch.arange(1, F - T + 1)[:, None] + torch.arange(T)[None, :]
        for i in range(0, idx.shape[0], chunk):
            parts.append(model.fuse(tokens[idx[i : i + chunk]])[:, -1])
    fused = torch.cat(parts)
    outs = []
    for i in range(0, F, chunk):
        s = slice(i, i + chunk)
        outs.append(
            model.decode(
                enc.select(s),
                fused[s],
                K[s],
                None if root_depth is None else root_depth[s],
                None if side is None else side[s],
            )
        )
    return _cat_outputs(outs)


def _cat_outputs(outs: list):
    from dataclasses import fields

    cls = type(outs[0])
    return cls(**{f.name: torch.cat([getattr(o, f.name) for o in outs]) for f in fields(cls)})
