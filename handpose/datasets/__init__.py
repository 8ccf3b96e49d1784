"""Datasets: windowed torch datasets over IMU files, IMU normalisation and the real VIHand
loader; for images the real loaders (:mod:`.freihand`, :mod:`.interhand`, :mod:`.dexycb`,
:mod:`.hanco`), source strings and conversion (:mod:`.sources`), the training dataset
(:mod:`.image_dataset`), augmentation (:mod:`.augment`) and pictures (:mod:`.show`).

The file formats they read (the image sample schema, sharded image storage, the IMU file) live in
:mod:`handpose.formats`, below the simulators that write them; their names are re-exported here."""

from handpose.datasets.image_dataset import ImageBatchCollate, ImageDataset
from handpose.datasets.normalize import DEFAULT_ACC_SCALE, imu_tokens, imu_tokens_from_quaternion
from handpose.datasets.sources import convert_dataset, open_source
from handpose.datasets.windows import ImuWindowDataset, sequence_split
from handpose.formats.imu_file import ImuFile, SequenceRecord, open_writer, read_sequences
from handpose.formats.sample import collate, dataset_meta, empty_sample, validate_sample
from handpose.formats.shards import ShardWriter, open_shards, shard_path, write_manifest

__all__ = [
    "DEFAULT_ACC_SCALE",
    "ImageBatchCollate",
    "ImageDataset",
    "ShardWriter",
    "collate",
    "convert_dataset",
    "dataset_meta",
    "empty_sample",
    "open_shards",
    "open_source",
    "shard_path",
    "validate_sample",
    "write_manifest",
    "ImuFile",
    "ImuWindowDataset",
    "SequenceRecord",
    "imu_tokens",
    "imu_tokens_from_quaternion",
    "open_writer",
    "read_sequences",
    "sequence_split",
]
