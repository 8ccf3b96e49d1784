"""The IMU CSV format: long and wide layouts, round trips, units kept, clear errors."""

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.inference.csv_format import read_imu_csv, write_imu_csv
from handpose.inference.recording import ImuRecording

from .standins import SENSORS, random_motion


def _rec(num_frames=5, fps=30.0):
    q, a = random_motion(num_frames)
    return ImuRecording(q, a, fps=fps, sensor_names=SENSORS, source="mem")


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_round_trip_is_exact(tmp_path, layout):
    rec = _rec(fps=60.0)
    rec.quaternions[2, 3] = np.nan
    path = tmp_path / f"rec_{layout}.csv"
    write_imu_csv(path, rec, layout=layout)
    back = read_imu_csv(path, sensor_names=SENSORS)
    assert back.fps == 60.0 and back.sensor_names == SENSORS
    np.testing.assert_array_equal(back.quaternions, rec.quaternions)  # repr() keeps all digits
    np.testing.assert_array_equal(back.accelerations, rec.accelerations)


def test_hand_written_long_file_any_row_order_and_index_ids(tmp_path):
    path = tmp_path / "a.csv"
    rows = ["frame,sensor,qw,qx,qy,qz,ax,ay,az,t"]
    for f in (1, 0):  # frames out of order
        for s in reversed(range(7)):
            rows.append(f"{f},{s},1,0,0,0,{s},{f},9.81,{f / 50}")
    path.write_text("\n".join(rows) + "\n")
    rec = read_imu_csv(path, sensor_names=SENSORS)
    assert rec.num_frames == 2 and rec.fps == pytest.approx(50.0)  # from the t column
    np.testing.assert_array_equal(rec.accelerations[1, :, 0], np.arange(7))
    np.testing.assert_array_equal(rec.accelerations[:, 0, 1], [0, 1])
    assert rec.accelerations[0, 0, 2] == 9.81  # m/s², not rescaled


def test_missing_rows_become_missing_samples(tmp_path):
    path = tmp_path / "gap.csv"
    lines = ["# fps=30", "frame,sensor,qw,qx,qy,qz,ax,ay,az"]
    for f in range(3):
        for s in SENSORS:
            if f == 1 and s == "ring":
                continue
            lines.append(f"{f},{s},1,0,0,0,0,0,0")
    path.write_text("\n".join(lines))
    rec = read_imu_csv(path, sensor_names=SENSORS)
    assert rec.missing().sum() == 1 and rec.missing()[1, 3]


def test_names_from_file_when_not_given(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("frame,b_qw,b_qx,b_qy,b_qz,b_ax,b_ay,b_az\n0,1,0,0,0,1,2,3\n")
    rec = read_imu_csv(path)
    assert rec.sensor_names == ("b",) and rec.fps == 30.0


@pytest.mark.parametrize(
    "text, match",
    [
        ("frame,sensor,qw\n0,thumb,1\n", "needs columns"),
        ("sensor,qw,qx,qy,qz,ax,ay,az\nthumb,1,0,0,0,0,0,0\n", "'frame' column"),
        ("frame,sensor,qw,qx,qy,qz,ax,ay,az\n0,elbow,1,0,0,0,0,0,0\n", "unknown sensor 'elbow'"),
        ("frame,sensor,qw,qx,qy,qz,ax,ay,az\n0,thumb,1,0,0,0,0,0,0\n", "file has 1 sensors"),
        ("frame,sensor,qw,qx,qy,qz,ax,ay,az\n0,9,1,0,0,0,0,0,0\n", "index 9 is out of range"),
        ("frame,sensor,qw,qx,qy,qz,ax,ay,az\n0,thumb,one,0,0,0,0,0,0\n", "'one' is not a number"),
        ("frame,sensor,qw,qx,qy,qz,ax,ay,az\n-1,thumb,1,0,0,0,0,0,0\n", "non-negative integer"),
        ("frame,thumb_qw,thumb_speed\n0,1,2\n", "column 'thumb_speed'"),
        ("# only a comment\n", "no header"),
        ("frame,sensor,qw,qx,qy,qz,ax,ay,az\n0,thumb,1,0,0,0,0,0,0,7\n", "row 2 has 10 cells"),
        ("# fps=nan\nframe,sensor,qw,qx,qy,qz,ax,ay,az\n", "'# fps=' comment must be a finite"),
        ("# fps=-30\nframe,sensor,qw,qx,qy,qz,ax,ay,az\n", "comment must be a number > 0"),
        ('frame,sensor\n0,"' + "a" * 200_000 + '"\n', "not a readable CSV file"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(HandposeError, match=match):
        read_imu_csv(path, sensor_names=SENSORS)


def test_duplicate_rows_are_rejected(tmp_path):
    path = tmp_path / "dup.csv"
    body = "\n".join(f"0,{s},1,0,0,0,0,0,0" for s in SENSORS)
    path.write_text("frame,sensor,qw,qx,qy,qz,ax,ay,az\n" + body + "\n0,thumb,1,0,0,0,0,0,0\n")
    with pytest.raises(HandposeError, match="two rows for sensor 'thumb'"):
        read_imu_csv(path, sensor_names=SENSORS)


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_frame_numbers_far_beyond_the_rows_are_refused(tmp_path, layout):
    """Missing frames are allowed, but not 2·(frames with rows) + 1000 of them (a frame number
    of 10¹¹ once tried to allocate terabytes)."""
    rec = _rec(num_frames=11)
    path = tmp_path / "gap.csv"
    write_imu_csv(path, rec, layout=layout)
    lines = path.read_text().splitlines()
    for frame, ok in ((1021, True), (1022, False)):  # 11 frames with rows: up to 1022 frames
        # The last recorded frame (all its rows) gets the new number: frames 10..frame-1 are gaps.
        text = "\n".join(f"{frame}," + ln[3:] if ln.startswith("10,") else ln for ln in lines)
        path.write_text(text + "\n")
        if ok:
            back = read_imu_csv(path, sensor_names=SENSORS)
            assert back.num_frames == 1022 and np.isnan(back.quaternions[10:1021]).all()
        else:
            with pytest.raises(HandposeError, match="frame number 1022 is far beyond the 11"):
                read_imu_csv(path, sensor_names=SENSORS)
