"""The handpose IMU CSV format: a plain-text recording anyone can write from a glove logger.

Two layouts, told apart by their header. Lines starting with ``#`` are comments; a comment
``# fps=30`` sets the frame rate (else ``--fps``, else the median spacing of a ``t`` column,
else 30 Hz). Cells may be empty or ``nan`` for a missing sample.

**Long** (one row per frame and sensor)::

    # fps=30
    frame,sensor,qw,qx,qy,qz,ax,ay,az
    0,thumb,0.998,0.01,0.05,0.0,0.12,-0.30,0.05
    0,index,...

- ``frame``: integer frame number (rows may come in any order; a frame or sensor with no row
  is a missing sample).
- ``sensor``: a sensor name of the student's layout (``vihand7``: thumb, index, middle, ring,
  pinky, back, wrist) or its 0-based index in that canonical order.
- ``qw, qx, qy, qz``: orientation quaternion, scalar first, sensor → world (it need not be
  exactly unit length: the normalisation divides by its norm).
- ``ax, ay, az``: **global free acceleration** in m/s²: world frame, gravity removed, as an
  AHRS/sensor-fusion chip outputs it (the student's input convention, the ``free_acceleration``
  of our HDF5 files). At rest all three are ≈ 0.
- An optional ``t`` column (seconds) is allowed.

**Wide** (one row per frame)::

    frame,thumb_qw,thumb_qx,thumb_qy,thumb_qz,thumb_ax,thumb_ay,thumb_az,index_qw,...

with the same units, one group of seven columns per sensor named ``<sensor>_<field>``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np

from handpose.errors import HandposeError
from handpose.inference.recording import ImuRecording
from handpose.utils.validate import check_float, check_row

__all__ = ["read_imu_csv", "write_imu_csv", "CSV_FIELDS", "DEFAULT_SENSOR_NAMES"]

CSV_FIELDS = ("qw", "qx", "qy", "qz", "ax", "ay", "az")
# The canonical order of the 7-sensor glove (team contract, datasets.md §5.6).
DEFAULT_SENSOR_NAMES = ("thumb", "index", "middle", "ring", "pinky", "back", "wrist")
_FPS_COMMENT = re.compile(r"#\s*fps\s*[=:]\s*(\S*)")
# Frames without any row are missing samples; a frame number far beyond the rows (a logger
# counting from boot, a typo) would allocate a huge mostly-empty recording instead.
MAX_EXTRA_FRAMES = 1000


def _number(cell: str, where: str) -> float:
    cell = cell.strip()
    if cell == "" or cell.lower() in ("nan", "null", "none"):
        return np.nan
    try:
        return float(cell)
    except ValueError:
        raise HandposeError(f"{where}: '{cell}' is not a number.") from None


def read_imu_csv(
    path: str | os.PathLike,
    sensor_names: tuple[str, ...] | None = None,
    fps: float | None = None,
) -> ImuRecording:
    """Read a long- or wide-layout IMU CSV (see the module docstring).

    Args:
        path: the CSV file.
        sensor_names: the expected sensors in canonical order (the student's). None: take the
            names from the file (in order of first appearance; numeric ids in index order).
        fps: frame rate in Hz; overrides the file's ``# fps=`` comment.
    Returns:
        :class:`ImuRecording` with NaN where samples are missing.
    Raises:
        HandposeError: unreadable file, unknown columns or sensors, wrong sensor count.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise HandposeError(f"cannot read the CSV file '{path}': {err}.") from None
    file_fps = None
    data_lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            match = _FPS_COMMENT.match(stripped)
            if match:
                file_fps = check_float(
                    _number(match.group(1), f"{path}: the '# fps=' comment"),
                    f"{path}: the '# fps=' comment",
                    0.0,
                    lo_open=True,
                )
            continue
        if stripped:
            data_lines.append(line)
    if not data_lines:
        raise HandposeError(f"{path}: the CSV file has no header or rows.")
    reader = csv.reader(io.StringIO("\n".join(data_lines)))
    try:
        header = [h.strip().lower() for h in next(reader)]
        rows = list(reader)
    except csv.Error as err:
        raise HandposeError(f"{path}: not a readable CSV file ({err}).") from None
    if "frame" not in header:
        raise HandposeError(f"{path}: the CSV header needs a 'frame' column, got {header}.")
    if "sensor" in header:
        frames, t, names, q, a = _read_long(path, header, rows, sensor_names)
    else:
        frames, t, names, q, a = _read_wide(path, header, rows, sensor_names)
    if fps is None:
        fps = file_fps
    if fps is None and t is not None and np.isfinite(t).sum() >= 2:
        ok = np.isfinite(t)
        dt = np.diff(t[ok]) / np.diff(frames[ok])
        fps = float(1.0 / np.median(dt)) if np.median(dt) > 0 else None
    return ImuRecording(
        quaternions=q,
        accelerations=a,
        fps=float(fps) if fps is not None else 30.0,
        sensor_names=names,
        source=str(path),
    )


def _frame_index(cells: list[str], col: int, where: str) -> int:
    value = _number(cells[col], where)
    if not np.isfinite(value) or value != int(value) or value < 0:
        raise HandposeError(f"{where}: 'frame' must be a non-negative integer, got '{cells[col]}'.")
    return int(value)


def _read_long(path, header, rows, sensor_names):
    missing = [c for c in CSV_FIELDS if c not in header]
    if missing:
        raise HandposeError(f"{path}: the long CSV layout needs columns {missing}.")
    col = {name: header.index(name) for name in ("frame", "sensor", *CSV_FIELDS)}
    t_col = header.index("t") if "t" in header else None
    parsed = []
    raw_sensors: list[str] = []
    for i, cells in enumerate(rows, start=2):
        where = f"{path}: row {i}"
        check_row(cells, len(header), where)
        frame = _frame_index(cells, col["frame"], where)
        sensor = cells[col["sensor"]].strip()
        values = [_number(cells[col[c]], where) for c in CSV_FIELDS]
        t = _number(cells[t_col], where) if t_col is not None else np.nan
        parsed.append((frame, sensor, values, t))
        if sensor not in raw_sensors:
            raw_sensors.append(sensor)
    if not parsed:
        raise HandposeError(f"{path}: the CSV file has a header but no rows.")
    names = _resolve_sensors(path, raw_sensors, sensor_names)
    index = {raw: names.index(_canonical(raw, names)) for raw in raw_sensors}
    num_frames = _num_frames(path, [p[0] for p in parsed])
    q = np.full((num_frames, len(names), 4), np.nan)
    a = np.full((num_frames, len(names), 3), np.nan)
    t = np.full(num_frames, np.nan)
    seen = np.zeros((num_frames, len(names)), dtype=bool)
    for frame, sensor, values, tt in parsed:
        s = index[sensor]
        if seen[frame, s]:
            raise HandposeError(f"{path}: frame {frame} has two rows for sensor '{names[s]}'.")
        seen[frame, s] = True
        q[frame, s] = values[:4]
        a[frame, s] = values[4:]
        t[frame] = tt
    frames = np.arange(num_frames, dtype=np.float64)
    return frames, (t if t_col is not None else None), names, q, a


def _num_frames(path, frames: list[int]) -> int:
    """Frames of the recording (0 to the largest frame number), refusing absurd gaps."""
    num_frames = max(frames) + 1
    with_rows = len(set(frames))
    if num_frames > 2 * with_rows + MAX_EXTRA_FRAMES:
        raise HandposeError(
            f"{path}: frame number {max(frames)} is far beyond the {with_rows} frames that have "
            "rows; frame numbers must count the recording's frames from 0."
        )
    return num_frames


def _canonical(raw: str, names: tuple[str, ...]) -> str:
    if raw in names:
        return raw
    return names[int(raw)]


def _resolve_sensors(path, raw: list[str], expected: tuple[str, ...] | None) -> tuple[str, ...]:
    numeric = all(r.isdigit() for r in raw)
    if expected is None:
        if numeric:
            count = max(int(r) for r in raw) + 1
            if count == len(DEFAULT_SENSOR_NAMES):
                return DEFAULT_SENSOR_NAMES
            return tuple(f"sensor{i}" for i in range(count))
        return tuple(raw)
    expected = tuple(expected)
    if numeric:
        bad = [r for r in raw if int(r) >= len(expected)]
        if bad:
            raise HandposeError(
                f"{path}: sensor index {bad[0]} is out of range: the student expects "
                f"{len(expected)} sensors ({', '.join(expected)})."
            )
    else:
        unknown = [r for r in raw if r not in expected]
        if unknown:
            raise HandposeError(
                f"{path}: unknown sensor '{unknown[0]}'; the student expects {len(expected)} "
                f"sensors: {', '.join(expected)}."
            )
    if len(raw) != len(expected):
        raise HandposeError(
            f"{path}: the file has {len(raw)} sensors but the student expects {len(expected)} "
            f"({', '.join(expected)})."
        )
    return expected


def _read_wide(path, header, rows, sensor_names):
    groups: list[str] = []
    for h in header:
        if h in ("frame", "t"):
            continue
        prefix, _, field = h.rpartition("_")
        if not prefix or field not in CSV_FIELDS:
            raise HandposeError(
                f"{path}: column '{h}' is neither 'frame', 't' nor '<sensor>_<field>' with field "
                f"in {list(CSV_FIELDS)} (a long-layout file needs a 'sensor' column)."
            )
        if prefix not in groups:
            groups.append(prefix)
    for g in groups:
        absent = [f for f in CSV_FIELDS if f"{g}_{f}" not in header]
        if absent:
            raise HandposeError(
                f"{path}: sensor '{g}' lacks columns {[f'{g}_{f}' for f in absent]}."
            )
    names = _resolve_sensors(path, groups, sensor_names)
    num_rows = len(rows)
    if num_rows == 0:
        raise HandposeError(f"{path}: the CSV file has a header but no rows.")
    frame_col = header.index("frame")
    t_col = header.index("t") if "t" in header else None
    frames_list = []
    for i, cells in enumerate(rows, start=2):
        check_row(cells, len(header), f"{path}: row {i}")
        frames_list.append(_frame_index(cells, frame_col, f"{path}: row {i}"))
    num_frames = _num_frames(path, frames_list)
    if len(set(frames_list)) != len(frames_list):
        raise HandposeError(f"{path}: a frame number appears in two rows.")
    q = np.full((num_frames, len(names), 4), np.nan)
    a = np.full((num_frames, len(names), 3), np.nan)
    t = np.full(num_frames, np.nan)
    cols = {
        (g, f): header.index(f"{g}_{f}") for g in groups for f in CSV_FIELDS
    }  # fmt: skip
    for i, (cells, frame) in enumerate(zip(rows, frames_list), start=2):
        where = f"{path}: row {i}"
        for g in groups:
            s = names.index(_canonical(g, names))
            vals = [_number(cells[cols[(g, f)]], where) for f in CSV_FIELDS]
            q[frame, s] = vals[:4]
            a[frame, s] = vals[4:]
        if t_col is not None:
            t[frame] = _number(cells[t_col], where)
    frames = np.arange(num_frames, dtype=np.float64)
    return frames, (t if t_col is not None else None), names, q, a


def write_imu_csv(path: str | os.PathLike, recording: ImuRecording, layout: str = "long") -> None:
    """Write a recording as CSV (atomic). NaN samples are written as empty cells.

    Args:
        path: destination ``.csv``.
        recording: the samples; quaternions ``(w, x, y, z)``, accelerations m/s².
        layout: "long" (one row per frame and sensor) or "wide" (one row per frame).
    """
    from handpose.utils.io import atomic_write_text

    if layout not in ("long", "wide"):
        raise HandposeError(f"unknown CSV layout '{layout}'; use 'long' or 'wide'.")

    def fmt(x: float) -> str:
        return "" if not np.isfinite(x) else repr(float(x))

    out = io.StringIO()
    out.write(f"# fps={recording.fps:g}\n")
    writer = csv.writer(out, lineterminator="\n")
    names = recording.sensor_names
    values = np.concatenate([recording.quaternions, recording.accelerations], axis=-1)
    if layout == "long":
        writer.writerow(["frame", "sensor", *CSV_FIELDS])
        for f in range(recording.num_frames):
            for s, name in enumerate(names):
                writer.writerow([f, name, *(fmt(v) for v in values[f, s])])
    else:
        writer.writerow(["frame", *(f"{n}_{c}" for n in names for c in CSV_FIELDS)])
        for f in range(recording.num_frames):
            writer.writerow([f, *(fmt(v) for v in values[f].reshape(-1))])
    atomic_write_text(path, out.getvalue())
