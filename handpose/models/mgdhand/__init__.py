"""MGDHand (CVPR 2026): MANO–IMU teacher, decoupled priors, IMU-only student.

The paper released no code; each module says which parts follow its text and which are our
reconstruction. Facts: ../shared/reference/mgdhand.md.
"""

from handpose.models.mgdhand.config import NetworkConfig, PriorConfig
from handpose.models.mgdhand.decoupling import PriorDecoupling
from handpose.models.mgdhand.heads import HandDecoder, ManoHead
from handpose.models.mgdhand.masking import sample_token_mask
from handpose.models.mgdhand.outputs import MGDHandOutput
from handpose.models.mgdhand.size import ModelSize, count_parameters, measure_model_size
from handpose.models.mgdhand.student import JointLift, MGDHandStudent
from handpose.models.mgdhand.teacher import MGDHandTeacher

__all__ = [
    "NetworkConfig",
    "PriorConfig",
    "PriorDecoupling",
    "HandDecoder",
    "ManoHead",
    "sample_token_mask",
    "MGDHandOutput",
    "ModelSize",
    "count_parameters",
    "measure_model_size",
    "JointLift",
    "MGDHandStudent",
    "MGDHandTeacher",
]
