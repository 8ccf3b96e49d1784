"""DIR's per-hand MANO vector and its decoding into meshes, joints and 2D projections.

The vector of one hand (DIR's 64-D vector with the default 45 components;
../shared/reference/vision_methods.md §2.3):

=========  =================================================================================
entries    meaning
=========  =================================================================================
0 … 5      root (global) rotation, 6D representation (first two rows, Gram–Schmidt:
           :func:`handpose.geometry.rotation_6d_to_matrix`)
6 … 6+k    finger pose as k PCA coefficients of the hand model (DIR: manopth
           ``use_pca=True, ncomps=45, flat_hand_mean=False``: the articulation is
           ``coeffs · components + hands_mean``)
+10        shape β
+3         weak-perspective crop camera (s, t_x, t_y): a model-frame point X lands at the
           normalised crop coordinates ``s·(X_xy + t)`` (±1 = crop edges,
           :func:`handpose.geometry.camera.weak_perspective_project`)
=========  =================================================================================

Slot 0 is the right hand (right model), slot 1 the left hand (left model: the open model's
exact mirror, or MANO_LEFT), as in the sample schema. Meshes and joints are in each hand's
**model frame** (zero translation: the wrist sits at J₀(β)). :func:`to_camera_frame` places
them in the camera frame of the crop with :func:`handpose.geometry.camera.cam_crop_to_full`.

The relative root offset (a separate 3-vector) is **right wrist − left wrist in units of
0.15 m** (DIR's normalisation; we root it at the wrists, where MRRPE is measured).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.geometry.camera import cam_crop_to_full, weak_perspective_project
from handpose.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    rotation_6d_to_matrix,
)
from handpose.handmodel import HandModel

__all__ = [
    "POSITION_UNIT",
    "HandsEstimate",
    "ManoVectorDecoder",
    "vector_size",
    "normalised_to_pixels",
    "pixels_to_normalised",
    "to_camera_frame",
]

POSITION_UNIT = 0.15  # metres: DIR divides positions and offsets by 0.15 m
_IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SIDES = ("right", "left")


def vector_size(num_pca: int = 45, num_betas: int = 10) -> int:
    """Length of one hand's MANO vector: 6 + k + β + 3 (64 for DIR)."""
    return 6 + int(num_pca) + int(num_betas) + 3


def normalised_to_pixels(p: Tensor, size: int) -> Tensor:
    """Normalised crop coordinates → pixels of an S × S crop: ``u = ((p + 1)·S − 1)/2``."""
    return ((p + 1.0) * size - 1.0) / 2.0


def pixels_to_normalised(uv: Tensor, size: int) -> Tensor:
    """Pixels of an S × S crop → normalised coordinates ``(2u + 1)/S − 1``; inverse of
    :func:`normalised_to_pixels` (:func:`handpose.models.heads.sampling.points_to_grid`)."""
    return (2.0 * uv + 1.0) / size - 1.0


@dataclass
class HandsEstimate:
    """One estimate of both hands (B = batch, slot 0 right, 1 left).

    Attributes:
        vector: (B, 2, D) the MANO vectors.
        offset: (B, 3) right wrist − left wrist, units of 0.15 m.
        rotmat: (B, 2, 3, 3) root rotation.
        pca: (B, 2, k) finger pose coefficients.
        betas: (B, 2, 10).
        camera: (B, 2, 3) (s, t_x, t_y).
        joints: (B, 2, 21, 3) OpenPose-21 joints, model frame, metres.
        vertices: (B, 2, V, 3) model frame, metres (None when not computed).
        joints_uv: (B, 2, 21, 2) weak-perspective projections, normalised crop coordinates.
        vertices_uv: (B, 2, V, 2) or None.
    """

    vector: Tensor
    offset: Tensor
    rotmat: Tensor
    pca: Tensor
    betas: Tensor
    camera: Tensor
    joints: Tensor
    vertices: Tensor | None
    joints_uv: Tensor
    vertices_uv: Tensor | None

    def as_dict(self) -> dict[str, Tensor | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ManoVectorDecoder(nn.Module):
    """MANO vectors of both hands → :class:`HandsEstimate` (through :class:`HandModel`).

    Args:
        hand_model: ``"open"`` (default), ``"mano"`` or a model file (see :class:`HandModel`).
        num_pca: k finger-pose components (DIR: 45).
        camera_init: (s, t_x, t_y) of :meth:`initial_vector`; s = 5 m⁻¹ puts a 0.3 m wide pair
            of hands across 75 % of the crop.
        fix_left_shapedirs: for MANO_LEFT (InterHand2.6M's convention), see :class:`HandModel`.
    """

    def __init__(
        self,
        hand_model: str = "open",
        num_pca: int = 45,
        camera_init: tuple[float, float, float] = (5.0, 0.0, 0.0),
        fix_left_shapedirs: bool | str = False,
    ) -> None:
        super().__init__()
        # Flat-hand-mean models driven by rotation matrices: the PCA → axis-angle map is done
        # here and the rotations by geometry.axis_angle_to_matrix, which exports to ONNX (the
        # layer's own Rodrigues uses torch.sinc, which does not).
        self.right = HandModel(hand_model, side="right")
        self.left = HandModel(hand_model, side="left", fix_left_shapedirs=fix_left_shapedirs)
        self.num_pca = int(num_pca)
        n_comps = self.right.hands_components.shape[0]
        if not 1 <= self.num_pca <= n_comps:
            raise HandposeError(f"num_pca must be between 1 and {n_comps}, got {num_pca}.")
        for name, m in (("right", self.right), ("left", self.left)):
            self.register_buffer(
                f"{name}_pca_basis", m.hands_components[: self.num_pca].clone(), persistent=False
            )
            self.register_buffer(f"{name}_pose_mean", m.hands_mean.clone(), persistent=False)
        self.num_betas = 10
        if self.right.num_betas < self.num_betas:
            raise HandposeError(
                f"the hand model has {self.right.num_betas} shape coefficients; DIR needs 10."
            )
        self.size = vector_size(self.num_pca, self.num_betas)
        self.camera_init = tuple(float(c) for c in camera_init)

    @property
    def num_vertices(self) -> int:
        return self.right.num_vertices

    def faces(self) -> tuple[Tensor, Tensor]:
        """(F, 3) triangles of the right and the left model (the left winding is mirrored)."""
        return self.right.faces, self.left.faces

    def initial_vector(self) -> Tensor:
        """(D,) identity root, mean pose (zero PCA coefficients), mean shape, ``camera_init``."""
        return torch.tensor(
            list(_IDENTITY_6D) + [0.0] * (self.num_pca + self.num_betas) + list(self.camera_init)
        )

    def split(self, vector: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(..., D) → 6D root (..., 6), PCA (..., k), β (..., 10), camera (..., 3)."""
        k, nb = self.num_pca, self.num_betas
        return (
            vector[..., :6],
            vector[..., 6 : 6 + k],
            vector[..., 6 + k : 6 + k + nb],
            vector[..., 6 + k + nb :],
        )

    def full_articulation(self, pca: Tensor, slot: int) -> Tensor:
        """(..., k) PCA coefficients → (..., 45) axis-angle articulation (flat-hand convention,
        the sample schema's ``mano_hand_pose``)."""
        name = "right" if slot == 0 else "left"
        basis = getattr(self, f"{name}_pca_basis").to(pca.dtype)
        return pca @ basis + getattr(self, f"{name}_pose_mean").to(pca.dtype)

    def forward(self, vector: Tensor, offset: Tensor, vertices: bool = True) -> HandsEstimate:
        """Decode (B, 2, D) vectors and a (B, 3) offset."""
        if vector.ndim != 3 or vector.shape[1:] != (2, self.size):
            raise HandposeError(
                f"MANO vectors must be (B, 2, {self.size}), got {tuple(vector.shape)}."
            )
        r6, pca, betas, cam = self.split(vector)
        rot = rotation_6d_to_matrix(r6)  # (B, 2, 3, 3)
        joints, verts = [], []
        B = vector.shape[0]
        for slot, model in enumerate((self.right, self.left)):
            pose = axis_angle_to_matrix(self.full_articulation(pca[:, slot], slot).view(B, 15, 3))
            out = model(
                global_orient=rot[:, slot],
                hand_pose=pose,
                betas=betas[:, slot],
                return_vertices=vertices,
            )
            joints.append(out.joints21)
            verts.append(out.vertices)
        joints_t = torch.stack(joints, 1)
        verts_t = torch.stack(verts, 1) if vertices else None
        return HandsEstimate(
            vector=vector,
            offset=offset,
            rotmat=rot,
            pca=pca,
            betas=betas,
            camera=cam,
            joints=joints_t,
            vertices=verts_t,
            joints_uv=weak_perspective_project(joints_t, cam),
            vertices_uv=None if verts_t is None else weak_perspective_project(verts_t, cam),
        )

    def schema_parameters(self, est: HandsEstimate) -> dict[str, Tensor]:
        """``mano_global_orient`` (B, 2, 3) and ``mano_hand_pose`` (B, 2, 45) (axis-angle, full
        articulation) and ``mano_betas`` (B, 2, 10) of an estimate, as in the sample schema."""
        pose = torch.stack([self.full_articulation(est.pca[:, s], s) for s in range(2)], 1)
        return {
            "mano_global_orient": matrix_to_axis_angle(est.rotmat),
            "mano_hand_pose": pose,
            "mano_betas": est.betas,
        }


def to_camera_frame(est: HandsEstimate, K: Tensor, size: int) -> dict[str, Tensor]:
    """Place both hands in the camera frame of an S × S crop with intrinsics K.

    Each hand's weak-perspective camera becomes a translation ``T`` with
    :func:`~handpose.geometry.camera.cam_crop_to_full` (the crop is the box: centre
    ``((S − 1)/2, (S − 1)/2)``, side S); the scale s is clamped at 10⁻³ m⁻¹.

    Args:
        est: the estimate (model-frame joints and vertices).
        K: (B, 3, 3) intrinsics of the crop.
        size: S.
    Returns:
        ``transl`` (B, 2, 3), ``joints3d`` (B, 2, 21, 3) and, with vertices, ``vertices``
        (B, 2, V, 3), metres, camera frame.
    """
    cam = est.camera
    cam = torch.cat([cam[..., :1].clamp_min(1e-3), cam[..., 1:]], -1)
    B = cam.shape[0]
    centre = cam.new_full((B, 2, 2), (size - 1) / 2.0)
    side = cam.new_full((B, 2), float(size))
    T = cam_crop_to_full(cam, centre, side, K.to(cam.dtype)[:, None].expand(B, 2, 3, 3))
    out = {"transl": T, "joints3d": est.joints + T[:, :, None]}
    if est.vertices is not None:
        out["vertices"] = est.vertices + T[:, :, None]
    return out
