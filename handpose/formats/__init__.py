"""File formats and the sample schema: what the simulators write and the loaders read.

- :mod:`.sample`: the image sample schema (:func:`empty_sample`, :func:`validate_sample`,
  :func:`collate`, :func:`dataset_meta`).
- :mod:`.shards`: sharded HDF5 storage of image samples + ``manifest.json``.
- :mod:`.imu_file`: the handpose IMU sequence file (HDF5).

This package sits below :mod:`handpose.simulators` and :mod:`handpose.datasets` (it imports only
``handpose.errors`` and ``handpose.utils``), so both can use it without importing each other.
"""

from handpose.formats.imu_file import ImuFile, SequenceRecord, open_writer, read_sequences
from handpose.formats.sample import collate, dataset_meta, empty_sample, validate_sample
from handpose.formats.shards import ShardWriter, open_shards, shard_path, write_manifest

__all__ = [
    "ImuFile",
    "SequenceRecord",
    "ShardWriter",
    "collate",
    "dataset_meta",
    "empty_sample",
    "open_shards",
    "open_writer",
    "read_sequences",
    "shard_path",
    "validate_sample",
    "write_manifest",
]
