"""Reference rows for docs/results/dir.md: two predictions that do not look at the image.

Evaluated with the same interhand protocol (IntagHand scale alignment rooted at the wrist) as
the DIR runs, on the test split of each folder given:

- ``initialisation``: what every DIR network outputs before training (identity root
  rotation, mean pose, mean shape, both hands). The ``twohand`` hands have uniformly random
  orientations, so no constant orientation does much better;
- ``orientation oracle``: the ground-truth global orientation of each hand with the mean pose
  and shape: what remains when only the finger articulation and shape are unknown.

Usage:
    python scripts/dir_constant_baseline.py runs/dir_exp/data/twohand_main [more folders]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handpose.formats.shards import open_shards  # noqa: E402
from handpose.geometry.rotations import axis_angle_to_matrix  # noqa: E402
from handpose.handmodel import HandModel  # noqa: E402
from handpose.metrics.protocols import evaluate_predictions  # noqa: E402

KEYS = ("joints3d", "joint_valid", "hand_valid", "vertices", "interacting")


def _split(root: str, split: str) -> dict[str, np.ndarray]:
    ds = open_shards(root)
    samples = [ds.get(split, i) for i in range(len(ds.split(split)))]
    return {k: np.stack([s[k] for s in samples]) for k in (*KEYS, "mano_global_orient")}


def _predict(R: torch.Tensor) -> dict[str, np.ndarray]:
    """R: (N, 2, 3, 3) root rotations → mean-pose, mean-shape hands (model frame)."""
    joints, verts = [], []
    for slot, side in enumerate(("right", "left")):
        m = HandModel("open", side=side, flat_hand_mean=False, dtype=torch.float64)
        zeros = torch.zeros(R.shape[0], 45, dtype=torch.float64)
        out = m(global_orient=R[:, slot], hand_pose=zeros)
        joints.append(out.joints21.numpy())
        verts.append(out.vertices.numpy())
    return {"joints3d": np.stack(joints, 1), "vertices": np.stack(verts, 1)}


def main(argv: list[str]) -> int:
    for root in argv:
        test = _split(root, "test")
        targets = {k: test[k] for k in KEYS}
        n = len(test["joints3d"])
        eye = torch.eye(3, dtype=torch.float64).expand(n, 2, 3, 3)
        gt = axis_angle_to_matrix(torch.as_tensor(test["mano_global_orient"], dtype=torch.float64))
        for name, R in (("initialisation", eye), ("orientation oracle", gt)):
            r = evaluate_predictions("interhand", _predict(R), targets, intaghand_root="wrist")
            print(
                f"| {name} | {Path(root).name} | {r['mpjpe_sh']:.2f} | {r['mpjpe_ih']:.2f} | "
                f"{r['mpjpe_all']:.2f} | {r['mpvpe_all']:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
