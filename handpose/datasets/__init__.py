"""Datasets: the handpose IMU file format, windowed torch datasets, IMU normalisation, and the
real VIHand loader."""

from handpose.datasets.normalize import DEFAULT_ACC_SCALE, imu_tokens, imu_tokens_from_quaternion
from handpose.datasets.storage import ImuFile, SequenceRecord, open_writer, read_sequences
from handpose.datasets.windows import ImuWindowDataset, sequence_split

__all__ = [
    "DEFAULT_ACC_SCALE",
    "ImuFile",
    "ImuWindowDataset",
    "SequenceRecord",
    "imu_tokens",
    "imu_tokens_from_quaternion",
    "open_writer",
    "read_sequences",
    "sequence_split",
]
