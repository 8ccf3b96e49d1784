"""A short training run lowers PGTE's and the VIBE-style baseline's losses."""

import torch

from handpose.geometry.camera import project
from handpose.handmodel import HandModel
from handpose.losses.pgte import PGTELossConfig, VibeLossConfig, face_subset, pgte_loss, vibe_loss
from handpose.models.pgte import PGTE, VibeBaseline

from .tiny import S, crop_K, frames, tiny_config, tiny_vibe_config


def hand_window(T: int = 2):
    """A posed open hand 0.45 m in front of a crop camera, moving slightly over T frames."""
    hand = HandModel("open")
    g = torch.Generator().manual_seed(0)
    pose = 0.2 * torch.randn(T, 45, generator=g)
    out = hand(hand_pose=pose, global_orient=torch.tensor([[3.0, 0.0, 0.0]]).expand(T, 3))
    shift = torch.tensor([0.0, 0.0, 0.45]) - out.joints21[:, :1].mean(0)
    verts, joints = out.vertices + shift, out.joints21 + shift
    K = crop_K((T,), f=120.0)
    return {
        "joints3d": joints,
        "vertices": verts,
        "K": K,
        "joints2d": project(joints, K),
        "valid": torch.ones(T, dtype=torch.bool),
        "joint_valid": torch.ones(T, 21, dtype=torch.bool),
    }


def test_pgte_loss_decreases():
    torch.manual_seed(0)
    T = 2
    model = PGTE(tiny_config(window=T))
    tg = hand_window(T)
    x = frames(T, seed=5).reshape(1, T, 3, S, S)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    ids, faces = face_subset(model.faces, 200, torch.Generator().manual_seed(0))
    sub = {**tg, "vertices": tg["vertices"][:, ids]}
    losses = []
    for _ in range(30):
        out = model(
            x, tg["K"][None], tg["joints3d"][None, :, 0, 2], vertex_ids=ids
        ).flatten_frames()
        terms = pgte_loss(
            out, sub, PGTELossConfig(), stride=model.stride, heatmap_size=model.heatmap_size,
            half_range=model.half_range, faces=faces, frames=T,
        )  # fmt: skip
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append(float(terms["loss"].detach()))
    assert losses[-1] < 0.5 * losses[0], losses


def test_vibe_loss_decreases():
    torch.manual_seed(0)
    T = 2
    model = VibeBaseline(tiny_vibe_config(window=T))
    tg = hand_window(T)
    x = frames(T, seed=5).reshape(1, T, 3, S, S)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        out = model(
            x, tg["K"][None], tg["joints3d"][None, :, 0, 2], torch.tensor([0])
        ).flatten_frames()
        terms = vibe_loss(out, tg, VibeLossConfig(), image_size=S, half_range=0.15, frames=T)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append(float(terms["loss"].detach()))
    assert losses[-1] < 0.5 * losses[0], losses
