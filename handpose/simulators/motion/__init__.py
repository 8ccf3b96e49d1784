"""Hand motion: VIHand-style gesture library, minimum-jerk keyframes, synthetic subjects."""

from handpose.simulators.motion.anatomy import (
    anatomical_to_axis_angle,
    axis_angle_to_anatomical,
    joint_limits,
)
from handpose.simulators.motion.generator import MotionSequence, generate_sequence
from handpose.simulators.motion.gestures import (
    GESTURES,
    SEQUENCE_NAMES,
    TEST_SEQUENCES,
    TRAIN_SEQUENCES,
    Gesture,
)
from handpose.simulators.motion.subjects import SubjectProfile, sample_subject
from handpose.simulators.motion.trajectory import keyframe_track, min_jerk, rotation_track

__all__ = [
    "GESTURES",
    "SEQUENCE_NAMES",
    "TEST_SEQUENCES",
    "TRAIN_SEQUENCES",
    "Gesture",
    "MotionSequence",
    "SubjectProfile",
    "anatomical_to_axis_angle",
    "axis_angle_to_anatomical",
    "generate_sequence",
    "joint_limits",
    "keyframe_track",
    "min_jerk",
    "rotation_track",
    "sample_subject",
]
