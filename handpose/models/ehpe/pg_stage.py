"""The Prior Guided joints estimation stage (PG-stage, EHPE §3.3): SPI + FEM + the fusion.

**Coordinates.** The PG-stage works in the TW-stage's 2.5D space (heatmap cells x, y and depth
bins z, the units of eq. 4 and eq. 12), normalised per axis for the network's inputs and
outputs: ``n = (p + ½)/size − ½`` with size = (w_hm, h_hm, d), so the volume's outer cell edges
are ±½ (:func:`normalise_coords`, :func:`denormalise_coords`). L_P (eq. 12) is measured in
cells and bins.

**Nodes (eq. 8's h_i = [x_i, y_i, z_i, F_i]).** All 21 joints are nodes. A joint estimated by
the TW-stage starts at its TW estimate. For the others the paper is silent; two strategies
(``init``):

- ``learned`` (default): an MLP reads the TW joints relative to their centroid and predicts
  the other joints' initial positions relative to that centroid (zero-initialised last layer:
  every other joint starts at the TW centroid). This is the structural prior "the positions of
  DIP, PIP and MCP are determined by the positions of TIP and wrist" (§1) learned from data
  instead of the public code's hand-made ratios and pixel offsets. It needs no loss of its own:
  through the SPI residual below, L_P reaches it directly. Without TW joints (Table 3's "PG
  only") it reads the average-pooled image feature instead.
- ``token``: the other joints have no position (0, the volume centre) and a learnable
  per-joint feature in place of the sampled F_i.

F_i is the projected backbone map (1×1 conv, ``feature_dim`` channels) sampled bilinearly at the
node's pixel (:func:`handpose.models.heads.sample_points`, pixel centres at integers; the
sampling position is not differentiated). The node input is ``Linear([n_i, F_i]) + E_i`` with a
learnable joint embedding E_i (the skeleton alone does not tell the five fingers apart).

**Outputs and fusion (eq. 11).** SPI_out_i = n_i + FC(h_i^(L)) (a residual on the node's
initial position; FC starts at zero) and FEM_out from :class:`~handpose.models.ehpe.fem.FEM`
(zero at the start); ``ĉ = Ω_G·SPI_out + ω_E ⊙ FEM_out`` with Ω_G ∈ R^{21×21} initialised to
the identity and ω_E ∈ R^{21×1} to ones (the public code's initialisation). Before training, ĉ
equals the initial positions exactly. Table 5's variants drop a branch (ĉ = Ω_G·SPI_out, or
ω_E ⊙ FEM_out, or, with neither, the initial positions).

**Final joints.** J_All = J_T ∪ J_W ∪ J_RE: the TW joints keep their TW estimates
(``keep_tw``) and the others take ĉ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from handpose.models.ehpe.config import NUM_JOINTS, PGConfig
from handpose.models.ehpe.fem import FEM
from handpose.models.ehpe.spi import SPI
from handpose.models.heads import heatmap_to_image, sample_points

__all__ = ["normalise_coords", "denormalise_coords", "Fusion", "PGOutput", "PGStage"]


def _size(grid: tuple[int, int, int], like: Tensor) -> Tensor:
    h, w, d = grid
    return torch.tensor([w, h, d], dtype=like.dtype, device=like.device)


def normalise_coords(coords: Tensor, grid: tuple[int, int, int]) -> Tensor:
    """(..., 3) (x, y cells, z bins) → normalised ``(p + ½)/size − ½``; grid = (h, w, d)."""
    return (coords + 0.5) / _size(grid, coords) - 0.5


def denormalise_coords(n: Tensor, grid: tuple[int, int, int]) -> Tensor:
    """Inverse of :func:`normalise_coords`."""
    return (n + 0.5) * _size(grid, n) - 0.5


class Fusion(nn.Module):
    """eq. 11: ``ĉ = Ω_G·SPI_out + ω_E ⊙ FEM_out`` (Ω_G = I and ω_E = 1 at the start).

    Forward: spi (B, 21, 3) or None, fem (B, 21, 3) or None → (B, 21, 3).
    """

    def __init__(self, num_joints: int = NUM_JOINTS) -> None:
        super().__init__()
        self.omega_g = nn.Parameter(torch.eye(num_joints))
        self.omega_e = nn.Parameter(torch.ones(num_joints, 1))

    def forward(self, spi: Tensor | None, fem: Tensor | None) -> Tensor:
        out = None
        if spi is not None:
            out = self.omega_g.to(spi.dtype) @ spi
        if fem is not None:
            e = self.omega_e.to(fem.dtype) * fem
            out = e if out is None else out + e
        if out is None:
            raise ValueError("the fusion needs at least one branch")
        return out


@dataclass
class PGOutput:
    """What the PG-stage returns (cells / bins; B = batch).

    Attributes:
        joints: (B, 21, 3) the final joints J_All (TW joints from the TW-stage if ``keep_tw``).
        fused: (B, 21, 3) ĉ of eq. 11 (L_P, eq. 12, is measured on it).
        initial: (B, 21, 3) the nodes' initial positions (token-initialised joints at the
            centre).
        spi: (B, 21, 3) SPI_out or None; fem: (B, 21, 3) FEM_out or None (both denormalised).
        alphas: per graph layer, (B, K, 21, 21) dynamic edge weights (empty when fixed / no
            SPI), for L_E (eq. 13).
    """

    joints: Tensor
    fused: Tensor
    initial: Tensor
    spi: Tensor | None
    fem: Tensor | None
    alphas: list[Tensor]


class PGStage(nn.Module):
    """SPI + FEM + fusion on top of a (frozen) TW-stage.

    Args:
        config: :class:`~handpose.models.ehpe.config.PGConfig`.
        tw_joints: OpenPose indices estimated by the TW-stage (empty: "PG only").
        feature_channels: C_b of the backbone map F.
        latent_channels: C of the TW latent F_p (ignored without TW joints).
        feature_stride, heatmap_stride: strides of F and of the heatmaps (pixels).
        depth_bins: d.
    """

    def __init__(
        self,
        config: PGConfig,
        tw_joints: tuple[int, ...],
        feature_channels: int,
        latent_channels: int,
        feature_stride: int,
        heatmap_stride: int,
        depth_bins: int,
    ) -> None:
        super().__init__()
        self.config = config
        self.tw_joints = tuple(int(j) for j in tw_joints)
        self.pg_joints = tuple(j for j in range(NUM_JOINTS) if j not in self.tw_joints)
        self.feature_stride = int(feature_stride)
        self.heatmap_stride = int(heatmap_stride)
        self.depth_bins = int(depth_bins)
        self.register_buffer("tw_index", torch.tensor(self.tw_joints, dtype=torch.long), False)
        self.register_buffer("pg_index", torch.tensor(self.pg_joints, dtype=torch.long), False)
        fd, dim = config.feature_dim, config.dim
        self.feature_proj = nn.Sequential(
            nn.Conv2d(feature_channels, fd, 1, bias=False), nn.BatchNorm2d(fd), nn.ReLU(True)
        )
        n_tw, n_pg = len(self.tw_joints), len(self.pg_joints)
        self.prior = None
        if config.init == "learned" and n_pg:
            in_dim = 3 * n_tw if n_tw else fd
            self.prior = nn.Sequential(
                nn.Linear(in_dim, 256), nn.ReLU(True), nn.Linear(256, 256), nn.ReLU(True),
                nn.Linear(256, 3 * n_pg),
            )  # fmt: skip
            nn.init.zeros_(self.prior[-1].weight)
            nn.init.zeros_(self.prior[-1].bias)
        self.unknown_feature = None
        if config.init == "token" and n_pg:
            self.unknown_feature = nn.Parameter(torch.zeros(n_pg, fd))
            nn.init.trunc_normal_(self.unknown_feature, std=0.02)
        self.spi = None
        if config.spi:
            self.node_in = nn.Linear(3 + fd, dim)
            self.joint_embed = nn.Parameter(torch.zeros(NUM_JOINTS, dim))
            nn.init.trunc_normal_(self.joint_embed, std=0.02)
            self.spi = SPI(
                dim,
                config.gat_layers,
                config.heads,
                dynamic=config.edge_weights == "dynamic",
                multi_hop=config.multi_hop,
                dropout=config.dropout,
            )
            self.spi_out = nn.Linear(dim, 3)
            nn.init.zeros_(self.spi_out.weight)
            nn.init.zeros_(self.spi_out.bias)
        self.fem = None
        if config.fem:
            self.fem = FEM(
                feature_channels,
                latent_channels if n_tw else None,
                dim,
                NUM_JOINTS,
                config.fem_self_layers,
                config.fem_cross_layers,
                config.fem_heads,
                config.fem_mlp_ratio,
                config.dropout,
            )
        self.fusion = Fusion(NUM_JOINTS)

    def _initial(self, tw_n: Tensor | None, proj: Tensor) -> Tensor:
        """(B, 21, 3) normalised initial positions."""
        b = proj.shape[0]
        init = proj.new_zeros(b, NUM_JOINTS, 3)
        if tw_n is not None and len(self.tw_joints):
            init = init.index_copy(1, self.tw_index, tw_n)
        if self.prior is not None:
            if len(self.tw_joints):
                centre = tw_n.mean(1, keepdim=True)
                rel = (tw_n - centre).reshape(b, -1)
                guess = self.prior(rel).reshape(b, -1, 3) + centre
            else:
                guess = self.prior(proj.mean((-2, -1))).reshape(b, -1, 3)
            init = init.index_copy(1, self.pg_index, guess)
        return init

    def forward(
        self,
        features: Tensor,
        tw_coords: Tensor | None,
        latent: Tensor | None,
        heatmap_size: tuple[int, int],
    ) -> PGOutput:
        """Run the PG-stage.

        Args:
            features: (B, C_b, h, w) the backbone map F.
            tw_coords: (B, J_tw, 3) TW estimates (cells, bins), or None without TW joints.
            latent: (B, C, H', W') the TW latent F_p (FEM tokens), or None.
            heatmap_size: (h_hm, w_hm) of the TW heatmaps (defines the cells).
        Returns:
            :class:`PGOutput`.
        """
        grid = (int(heatmap_size[0]), int(heatmap_size[1]), self.depth_bins)
        proj = self.feature_proj(features)
        tw_n = None if tw_coords is None else normalise_coords(tw_coords, grid)
        init_n = self._initial(tw_n, proj)
        spi_n = fem_n = None
        alphas: list[Tensor] = []
        if self.spi is not None:
            uv = heatmap_to_image(denormalise_coords(init_n, grid)[..., :2], self.heatmap_stride)
            sampled = sample_points(proj, uv.detach(), self.feature_stride, "border")
            if self.unknown_feature is not None:
                tokens = self.unknown_feature.to(sampled.dtype).expand(sampled.shape[0], -1, -1)
                sampled = sampled.index_copy(1, self.pg_index, tokens)
            h0 = self.node_in(torch.cat([init_n, sampled], -1)) + self.joint_embed
            h, alphas = self.spi(h0)
            if self.spi.layers[0].dynamic is False:
                alphas = []
            spi_n = init_n + self.spi_out(h)
        if self.fem is not None:
            fem_n = self.fem(features, latent if len(self.tw_joints) else None)
        fused_n = init_n if spi_n is None and fem_n is None else self.fusion(spi_n, fem_n)
        fused = denormalise_coords(fused_n, grid)
        joints = fused
        if self.config.keep_tw and tw_coords is not None and len(self.tw_joints):
            joints = fused.index_copy(1, self.tw_index, tw_coords.to(fused.dtype))
        return PGOutput(
            joints=joints,
            fused=fused,
            initial=denormalise_coords(init_n, grid),
            spi=None if spi_n is None else denormalise_coords(spi_n, grid),
            fem=None if fem_n is None else denormalise_coords(fem_n, grid),
            alphas=alphas,
        )
