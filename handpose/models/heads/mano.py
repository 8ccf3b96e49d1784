"""MANO parameter head: a feature vector → 6D rotations, shape, camera → the hand model layer.

The head regresses (HMR / HaMeR style)

- 16 rotations in the 6D representation (Zhou et al., CVPR 2019; the first two rows of R, as
  :func:`handpose.geometry.rotation_6d_to_matrix`): the root (global orientation) and the 15
  finger joints, **full articulation** (``flat_hand_mean=True``, the sample schema's
  convention);
- ``num_betas`` shape coefficients;
- optionally a weak-perspective crop camera ``(s, t_x, t_y)`` in HaMeR's convention
  (:func:`handpose.geometry.camera.weak_perspective_project`: a model-frame point X lands at
  normalised crop coordinates ``s·(X_xy + t)``, t in metres; ``cam_crop_to_full`` turns it into
  a translation in the full image).

Gram–Schmidt maps the 6D vectors to rotation matrices, which drive
:class:`handpose.handmodel.HandModel` directly (it takes local rotation matrices); the
axis-angle form the sample schema stores (``mano_global_orient`` (3,), ``mano_hand_pose`` (45,))
is returned beside them. The last linear layer starts near zero with its bias at the identity
rotations, zero shape and ``camera_init``, so training starts from the flat mean hand.

**Iterative error feedback** (HMR, Kanazawa et al., CVPR 2018; VIBE's regressor): with
``iterations = n > 1`` the MLP sees the features concatenated with the current parameter
vector and outputs a correction, applied n times from the initial vector (identity rotations,
zero shape, ``camera_init``); its last layer starts near zero with zero bias.
``iterations = 1`` is the one-shot head above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from handpose.errors import HandposeError
from handpose.geometry.rotations import matrix_to_axis_angle, rotation_6d_to_matrix
from handpose.handmodel import HandModel

__all__ = ["ManoHeadOutput", "ManoParameterHead"]

_IDENTITY_6D = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass
class ManoHeadOutput:
    """Output of :class:`ManoParameterHead` (B = batch).

    Attributes:
        rotmats: (B, 16, 3, 3) local rotations, root first (MANO joint order).
        global_orient: (B, 3) axis-angle of the root.
        hand_pose: (B, 45) axis-angle of the 15 finger joints (full articulation).
        betas: (B, num_betas).
        camera: (B, 3) weak-perspective (s, t_x, t_y), or None.
        joints21: (B, 21, 3) OpenPose-order joints in the **model frame** (metres; MANO output
            with zero translation: the wrist sits at the shaped root J₀(β), not at the origin;
            subtract ``joints21[:, :1]`` for root-relative joints).
        vertices: (B, V, 3) mesh in the model frame, or None (``return_vertices=False``).
    """

    rotmats: Tensor
    global_orient: Tensor
    hand_pose: Tensor
    betas: Tensor
    camera: Tensor | None
    joints21: Tensor
    vertices: Tensor | None


class ManoParameterHead(nn.Module):
    """(B, F) features → MANO parameters and the posed hand.

    Args:
        in_features: F.
        hand_model: a :class:`HandModel` or a model name / file for it (``"open"`` default,
            ``"mano"`` for the official files). Its buffers are not part of the state dict.
        hidden: widths of the hidden layers of the MLP (ReLU).
        num_betas: shape coefficients regressed (≤ the model's).
        predict_camera: also regress a weak-perspective camera (s, t_x, t_y).
        camera_init: the camera at initialisation; s = 8 m⁻¹ makes a 0.25 m wide region fill
            the crop (normalised coordinates span 2).
        return_vertices: compute the mesh (False: joints only, faster).
        side: hand side when ``hand_model`` is a name.
        iterations: 1 for the one-shot head, n > 1 for HMR's iterative error feedback (module
            docstring).
    """

    def __init__(
        self,
        in_features: int,
        hand_model: HandModel | str = "open",
        hidden: Sequence[int] = (512,),
        num_betas: int = 10,
        predict_camera: bool = True,
        camera_init: Sequence[float] = (8.0, 0.0, 0.0),
        return_vertices: bool = True,
        side: str = "right",
        iterations: int = 1,
    ) -> None:
        super().__init__()
        if int(iterations) < 1:
            raise HandposeError(f"iterations must be ≥ 1, got {iterations}.")
        self.iterations = int(iterations)
        self.hand_model = (
            hand_model if isinstance(hand_model, HandModel) else HandModel(hand_model, side=side)
        )
        if not self.hand_model.flat_hand_mean:
            raise HandposeError(
                "ManoParameterHead regresses full articulation; use a HandModel with flat_hand_mean=True."
            )
        if not 0 <= num_betas <= self.hand_model.num_betas:
            raise HandposeError(
                f"num_betas must be between 0 and {self.hand_model.num_betas}, got {num_betas}."
            )
        self.num_betas = int(num_betas)
        self.predict_camera = bool(predict_camera)
        self.return_vertices = bool(return_vertices)
        n_out = 16 * 6 + self.num_betas + (3 if self.predict_camera else 0)
        layers: list[nn.Module] = []
        c = int(in_features) + (n_out if self.iterations > 1 else 0)
        for width in hidden:
            layers += [nn.Linear(c, int(width)), nn.ReLU(inplace=True)]
            c = int(width)
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(c, n_out)
        nn.init.xavier_uniform_(self.out.weight, gain=0.01)
        init = list(_IDENTITY_6D) * 16 + [0.0] * self.num_betas
        if self.predict_camera:
            if len(camera_init) != 3:
                raise HandposeError(f"camera_init must be (s, t_x, t_y), got {tuple(camera_init)}.")
            init += [float(v) for v in camera_init]
        # the starting parameter vector of the iterations (not in the state dict)
        self.register_buffer("init_params", torch.tensor(init), persistent=False)
        with torch.no_grad():
            if self.iterations == 1:
                self.out.bias.copy_(self.init_params)
            else:
                self.out.bias.zero_()

    def regress(self, features: Tensor) -> Tensor:
        """(B, F) features → (B, n_out) raw parameter vector (6D rotations, betas, camera)."""
        if self.iterations == 1:
            return self.out(self.mlp(features))
        raw = self.init_params.to(features.dtype).expand(features.shape[0], -1)
        for _ in range(self.iterations):
            raw = raw + self.out(self.mlp(torch.cat([features, raw], dim=-1)))
        return raw

    def forward(self, features: Tensor) -> ManoHeadOutput:
        if not isinstance(features, Tensor) or features.ndim != 2:
            raise HandposeError(
                f"the MANO head takes (B, F) feature vectors, got {getattr(features, 'shape', type(features).__name__)}."
            )
        raw = self.regress(features)
        rotmats = rotation_6d_to_matrix(raw[:, : 16 * 6].unflatten(1, (16, 6)))  # (B, 16, 3, 3)
        betas = raw[:, 96 : 96 + self.num_betas]
        camera = raw[:, 96 + self.num_betas :] if self.predict_camera else None
        hand = self.hand_model(
            global_orient=rotmats[:, 0],
            hand_pose=rotmats[:, 1:],
            betas=betas if self.num_betas else None,
            return_vertices=self.return_vertices,
        )
        aa = matrix_to_axis_angle(rotmats)  # (B, 16, 3)
        return ManoHeadOutput(
            rotmats=rotmats,
            global_orient=aa[:, 0],
            hand_pose=aa[:, 1:].flatten(1),
            betas=betas,
            camera=camera,
            joints21=hand.joints21,
            vertices=hand.vertices,
        )
