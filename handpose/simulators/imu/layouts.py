"""IMU layouts as data: which bone and which mesh vertex each sensor rides on.

A sensor follows the **global rotation of one hand-model joint** (the bone from that joint to its
child) and the **trajectory of one mesh vertex**. The vertex is given as an integer id or as a
named *site* that each hand model resolves (:func:`sensor_sites`):

- ``dorsal_tip:<finger>`` — a vertex on the nail side of the distal phalanx (where VIHand's glove
  IMUs sit, datasets.md §5.6); ``tip:<finger>`` — the fingertip apex used for joints21;
- ``back`` — the back of the hand over the middle metacarpal (VIHand's transmitter puck);
- ``wrist`` — a vertex on the dorsal wrist boundary of the mesh.

Layouts shipped (canonical order; the root is the back-of-hand sensor):

- ``vihand7`` — VIHand's glove: thumb, index, middle, ring, pinky dorsal distal phalanx, back of
  hand, wrist. **Approximation:** the real wrist IMU sits on a strap on the distal forearm, but
  MANO-style models have no forearm. Our wrist sensor sits on the model's wrist region and turns
  with the root (joint 0), so it does not see wrist flexion/deviation; its rotation equals the
  back sensor's (imu.md §6.1). Its position still differs, so its acceleration carries the
  tangential/centripetal terms of a point near the wrist.
- ``sparse3`` — **our choice** (MGDHand's 3-IMU subset is undocumented): thumb tip, index tip,
  back. The thumb has its own kinematic chain (opposition) that no other finger predicts; the
  index is the most independent finger; the back sensor is the normalisation root and carries
  the global orientation.
- ``sparse2`` — **our choice**: index tip, back. One finger plus the root; the index is chosen
  over the thumb because the four fingers move together in most of the gestures (fist, bending,
  counting), so one finger informs four.
- ``vifnet4`` — thumb, middle, pinky tips and back, as drawn in VIHand's VIFNet-S illustration
  (datasets.md §5.6; an illustration only).

Custom layouts: :func:`custom_layout` from ``(name, joint, vertex)`` triples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from handpose.errors import HandposeError
from handpose.handmodel.conventions import MANO_JOINT_NAMES, TIP_FINGER_ORDER, TIP_PRESETS

__all__ = [
    "FINGER_DISTAL_JOINT",
    "IDENTITY_MOUNTING",
    "ImuSensor",
    "ImuLayout",
    "ResolvedLayout",
    "LAYOUTS",
    "get_layout",
    "custom_layout",
    "sensor_sites",
    "dorsal_sites_from_mesh",
    "resolve_layout",
]

# MANO joint whose global rotation is the distal phalanx's (thumb3, index3, middle3, ring3, pinky3).
FINGER_DISTAL_JOINT: dict[str, int] = {
    "thumb": 15,
    "index": 3,
    "middle": 6,
    "ring": 12,
    "pinky": 9,
}
IDENTITY_MOUNTING: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.0, 0.0),
    (0.0, 1.0, 0.0),
    (0.0, 0.0, 1.0),
)


@dataclass(frozen=True)
class ImuSensor:
    """One IMU: a name, the joint whose global rotation it follows, its vertex and mounting.

    Attributes:
        name: unique within a layout (e.g. "index").
        joint: MANO joint index 0–15 (the sensor turns with this joint's global rotation).
        vertex: mesh vertex id, or a site name (see the module docstring).
        mounting: 3×3 nominal sensor-to-bone rotation R_BS, row-major nested tuples
            (identity: sensor axes = bone axes, the usual synthetic convention, imu.md §2).
    """

    name: str
    joint: int
    vertex: int | str
    mounting: tuple[tuple[float, float, float], ...] = IDENTITY_MOUNTING

    def __post_init__(self) -> None:
        if not 0 <= int(self.joint) < len(MANO_JOINT_NAMES):
            raise HandposeError(f"sensor {self.name!r}: joint must be in 0..15, got {self.joint}.")


@dataclass(frozen=True)
class ImuLayout:
    """A named, ordered set of sensors with one root (the normalisation reference)."""

    name: str
    sensors: tuple[ImuSensor, ...]
    root: str = "back"
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise HandposeError(f"layout {self.name!r} has duplicate sensor names {names}.")
        if self.root not in names:
            raise HandposeError(f"layout {self.name!r}: root {self.root!r} is not one of {names}.")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)

    @property
    def root_index(self) -> int:
        return self.names.index(self.root)

    def __len__(self) -> int:
        return len(self.sensors)

    def indices(self, names: Iterable[str]) -> list[int]:
        """Positions of ``names`` in this layout (raises HandposeError for unknown names)."""
        out = []
        for n in names:
            if n not in self.names:
                raise HandposeError(
                    f"sensor {n!r} is not in layout {self.name!r} (sensors: {', '.join(self.names)})."
                )
            out.append(self.names.index(n))
        return out

    def subset(self, names: Sequence[str], name: str | None = None) -> ImuLayout:
        """The sensors ``names`` in this layout's order; the root must be among them."""
        idx = sorted(self.indices(names))
        return ImuLayout(
            name=name or f"{self.name}[{','.join(names)}]",
            sensors=tuple(self.sensors[i] for i in idx),
            root=self.root,
        )


@dataclass(frozen=True)
class ResolvedLayout:
    """A layout bound to one hand model: tensors ready for simulation.

    Attributes:
        joints: (N,) long joint indices. vertices: (N,) long vertex ids.
        mounting: (N, 3, 3) float64 sensor-to-bone rotations.
    """

    layout: ImuLayout
    joints: Tensor
    vertices: Tensor
    mounting: Tensor


def _finger_sensor(finger: str) -> ImuSensor:
    return ImuSensor(finger, FINGER_DISTAL_JOINT[finger], f"dorsal_tip:{finger}")


_VIHAND7 = ImuLayout(
    name="vihand7",
    sensors=(
        *(_finger_sensor(f) for f in TIP_FINGER_ORDER),
        ImuSensor("back", 0, "back"),
        ImuSensor("wrist", 0, "wrist"),
    ),
    description="VIHand glove: 5 dorsal distal phalanges, back of hand, wrist (root rotation).",
)

LAYOUTS: dict[str, ImuLayout] = {
    "vihand7": _VIHAND7,
    "sparse3": _VIHAND7.subset(["thumb", "index", "back"], name="sparse3"),
    "sparse2": _VIHAND7.subset(["index", "back"], name="sparse2"),
    "vifnet4": _VIHAND7.subset(["thumb", "middle", "pinky", "back"], name="vifnet4"),
}


def get_layout(name: str | ImuLayout) -> ImuLayout:
    """A shipped layout by name (``vihand7``, ``sparse3``, ``sparse2``, ``vifnet4``)."""
    if isinstance(name, ImuLayout):
        return name
    if name not in LAYOUTS:
        raise HandposeError(f"unknown IMU layout {name!r}; choose one of {', '.join(LAYOUTS)}.")
    return LAYOUTS[name]


def custom_layout(
    name: str,
    sensors: Iterable[tuple[str, int, int | str]],
    root: str,
) -> ImuLayout:
    """A layout from ``(sensor name, joint index, vertex id or site)`` triples.

    Example:
        >>> lay = custom_layout("two", [("idx", 3, 320), ("palm", 0, "back")], root="palm")
        >>> lay.names
        ('idx', 'palm')
    """
    return ImuLayout(
        name=name, sensors=tuple(ImuSensor(n, int(j), v) for n, j, v in sensors), root=root
    )


def sensor_sites(model) -> dict[str, int]:
    """Named vertex sites of a hand model (``HandModel`` or ``HandModelData``).

    Uses the model's own sensor vertex ids when its file has them (the open hand asset ships
    ``dorsal_tip_ids``, ``back_vertex_id``, ``wrist_vertex_id``, kept in
    ``HandModelData.metadata``). Otherwise (e.g. official MANO files) tips come from the model's
    ``tip_ids`` (smplx preset for MANO), and the dorsal, back and wrist sites are found
    geometrically on the rest mesh (:func:`dorsal_sites_from_mesh`).
    """
    data = getattr(model, "model_data", model)
    tips = getattr(model, "tip_ids", None)
    if tips is None:
        tips = getattr(data, "tip_ids", None)
    tips = [int(t) for t in (tips if tips is not None else TIP_PRESETS["smplx"])]
    sites: dict[str, int] = {f"tip:{f}": t for f, t in zip(TIP_FINGER_ORDER, tips)}
    meta = getattr(data, "metadata", None) or {}
    dorsal = meta.get("dorsal_tip_ids")
    back = meta.get("back_vertex_id")
    wrist = meta.get("wrist_vertex_id")
    if dorsal is None or back is None or wrist is None:
        geo = dorsal_sites_from_mesh(data, tips)
        if dorsal is None:
            dorsal = [geo[f"dorsal_tip:{f}"] for f in TIP_FINGER_ORDER]
        back = geo["back"] if back is None else back
        wrist = geo["wrist"] if wrist is None else wrist
    for f, v in zip(TIP_FINGER_ORDER, [int(x) for x in torch.as_tensor(dorsal).reshape(-1)]):
        sites[f"dorsal_tip:{f}"] = v
    sites["back"] = int(torch.as_tensor(back).reshape(()))
    sites["wrist"] = int(torch.as_tensor(wrist).reshape(()))
    return sites


def dorsal_sites_from_mesh(data, tips: Sequence[int]) -> dict[str, int]:
    """Geometric fallback for models without sensor ids (rest mesh, β = 0).

    The dorsal direction ``n`` is the normal of the palm triangle (wrist, index1, pinky1):
    ``(pinky1 − wrist) × (index1 − wrist)`` for a right hand (the back of the hand), negated for a
    left hand (mirroring flips the cross product). For each finger, among the vertices skinned
    mostly to its distal joint and lying 40–80 % of the way from the joint to the tip, the dorsal
    site is the one furthest along ``n`` (the nail). The back site is the vertex furthest along
    ``n`` within 2 cm of the middle-metacarpal midpoint; the wrist site the one furthest along ``n``
    in the 1 cm thick cross-section of the mesh through the wrist joint.
    """
    v = torch.as_tensor(data.v_template, dtype=torch.float64)
    J = torch.as_tensor(data.J_regressor, dtype=torch.float64) @ v
    W = torch.as_tensor(data.weights, dtype=torch.float64)
    owner = W.argmax(-1)
    normal = torch.linalg.cross(J[7] - J[0], J[1] - J[0])
    if str(getattr(data, "side", "right")) == "left":
        normal = -normal
    normal = normal / normal.norm()
    out: dict[str, int] = {}
    for f, t in zip(TIP_FINGER_ORDER, tips):
        j = FINGER_DISTAL_JOINT[f]
        cand = torch.nonzero(owner == j).reshape(-1)
        axis = v[int(t)] - J[j]
        along = (v[cand] - J[j]) @ axis / axis.dot(axis)
        cand = cand[(along > 0.4) & (along < 0.8)]
        out[f"dorsal_tip:{f}"] = _furthest(v, cand, normal, f"{f} dorsal", data)
    mid = 0.5 * (J[0] + J[4])
    near = torch.nonzero((v - mid).norm(dim=-1) < 0.02).reshape(-1)
    out["back"] = _furthest(v, near, normal, "back", data)
    axis = (J[4] - J[0]) / (J[4] - J[0]).norm()  # the hand's long axis
    near = torch.nonzero(((v - J[0]) @ axis).abs() < 0.005).reshape(-1)
    out["wrist"] = _furthest(v, near, normal, "wrist", data)
    return out


def _furthest(v, cand, normal, site: str, data) -> int:
    """The candidate vertex furthest along ``normal``; a model without one is a user error."""
    if cand.numel() == 0:
        raise HandposeError(
            f"hand model '{getattr(data, 'name', 'model')}' has no mesh vertex where the {site} "
            "IMU site belongs (too coarse a mesh?); store sensor vertex ids in the model file."
        )
    return int(cand[torch.argmax(v[cand] @ normal)])


def resolve_layout(layout: ImuLayout | str, sites: Mapping[str, int]) -> ResolvedLayout:
    """Bind a layout to a model's vertex sites (see :func:`sensor_sites`)."""
    layout = get_layout(layout)
    verts = []
    for s in layout.sensors:
        if isinstance(s.vertex, str):
            if s.vertex not in sites:
                raise HandposeError(
                    f"sensor {s.name!r} uses site {s.vertex!r}, which this hand model does not define."
                )
            verts.append(int(sites[s.vertex]))
        else:
            verts.append(int(s.vertex))
    return ResolvedLayout(
        layout=layout,
        joints=torch.tensor([s.joint for s in layout.sensors], dtype=torch.long),
        vertices=torch.tensor(verts, dtype=torch.long),
        mounting=torch.tensor([s.mounting for s in layout.sensors], dtype=torch.float64),
    )
