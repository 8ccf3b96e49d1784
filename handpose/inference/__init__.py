"""IMU inference: hand poses from recorded files or live IMU frames, torch or onnxruntime.

- Files: :func:`infer_file` (``handpose infer imu``) reads our HDF5, VIHand's ``IMU.json`` or the
  handpose IMU CSV (:mod:`.csv_format`) and writes MANO parameters, joints and vertices (npz),
  optionally a comparison video and error plots.
- Live: :meth:`ImuPoseEstimator.stream` gives a :class:`StreamingEstimator` that takes one frame
  at a time (causal sliding window, latency one frame, dropouts held and flagged);
  ``handpose infer stream`` serves it over NDJSON on stdin or UDP (:mod:`.protocol`).
- ONNX: :mod:`.onnx_export` (``handpose export onnx``), parity-checked against torch.

Heavy modules (torch models, onnxruntime, the renderer) load on first use.
"""

from handpose.inference.dropout import SampleHold, hold_missing
from handpose.inference.estimator import ImuPoseEstimator, PoseSequence, save_pose_npz
from handpose.inference.recording import GroundTruth, ImuRecording
from handpose.inference.streaming import StreamingEstimator, StreamPose

__all__ = [
    "GroundTruth",
    "ImuRecording",
    "ImuPoseEstimator",
    "PoseSequence",
    "SampleHold",
    "StreamPose",
    "StreamingEstimator",
    "hold_missing",
    "save_pose_npz",
    "infer_file",
    "infer_recording",
    "load_estimator",
    "load_student",
    "read_imu",
    "write_error_plots",
    "export_onnx",
]


def __getattr__(name):  # lazy: these pull in torch models, h5py and onnx
    if name in ("infer_file", "infer_recording", "load_estimator", "load_student"):
        from handpose.inference import api

        return getattr(api, name)
    if name == "write_error_plots":
        from handpose.inference.api import write_error_plots

        return write_error_plots
    if name == "read_imu":
        from handpose.inference.readers import read_imu

        return read_imu
    if name == "export_onnx":
        from handpose.inference.onnx_export import export_onnx

        return export_onnx
    raise AttributeError(f"module 'handpose.inference' has no attribute {name!r}")
