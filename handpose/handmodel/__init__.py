"""The hand model: a MANO-compatible layer, the embedded open hand, safe MANO loading.

>>> from handpose.handmodel import HandModel
>>> model = HandModel("open", side="right")  # doctest: +SKIP
>>> out = model(hand_pose=torch.zeros(1, 45))  # doctest: +SKIP

See :mod:`handpose.handmodel.layer` (options and conventions), :mod:`handpose.handmodel.lbs`
(the functional forward model), :mod:`handpose.handmodel.data` (model sources) and
:mod:`handpose.handmodel.mano_pickle` (the restricted MANO unpickler).
"""

from handpose.handmodel.conventions import (
    MANO_JOINT_NAMES,
    MANO_LEVELS,
    MANO_PARENTS,
    MANO_TO_OPENPOSE,
    OPENPOSE_JOINT_NAMES,
    OPENPOSE_TO_MANO,
    TIP_PRESETS,
)
from handpose.handmodel.data import (
    HandModelData,
    apply_left_shapedirs_fix,
    find_mano_file,
    load_hand_model_data,
    mirror_hand_model_data,
)
from handpose.handmodel.layer import HandModel, HandModelOutput
from handpose.handmodel.mano_pickle import export_mano_pickle, load_mano_pickle, save_npz_model

__all__ = [
    "HandModel",
    "HandModelOutput",
    "HandModelData",
    "load_hand_model_data",
    "mirror_hand_model_data",
    "apply_left_shapedirs_fix",
    "find_mano_file",
    "load_mano_pickle",
    "save_npz_model",
    "export_mano_pickle",
    "MANO_JOINT_NAMES",
    "MANO_PARENTS",
    "MANO_LEVELS",
    "MANO_TO_OPENPOSE",
    "OPENPOSE_JOINT_NAMES",
    "OPENPOSE_TO_MANO",
    "TIP_PRESETS",
]
