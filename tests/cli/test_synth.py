"""``handpose synth imu`` through ``handpose.cli.main``."""

import numpy as np

from handpose.cli import main
from handpose.formats.imu_file import ImuFile
from tests.simulators.standin import save_stick_hand


def test_synth_imu_writes_a_vihand_structured_file(tmp_path, capsys):
    model = tmp_path / "stick.npz"
    save_stick_hand(model)
    out = tmp_path / "data" / "synth.h5"
    args = ["synth", "imu", "--subjects", "2", "--out", str(out), "--frames-per-sequence", "40",
            "--sequences", "ROM01,ROM14_Random_Gestures", "--seed", "4", "--model", str(model)]  # fmt: skip
    assert main(args) == 0
    msg = capsys.readouterr()
    assert "2 subjects × 2 sequences, 160 frames" in msg.out
    assert "synth imu" in msg.err  # the tqdm bar
    with ImuFile(out) as f:
        assert f.keys() == [(1, "ROM01_Finger_Counting"), (1, "ROM14_Random_Gestures"),
                            (2, "ROM01_Finger_Counting"), (2, "ROM14_Random_Gestures")]  # fmt: skip
        a = f.attrs
        assert a["seed"] == 4 and a["fps"] == 30.0 and a["layout"] == "vihand7"
        assert a["noise"]["white"] is True
        rec = f.read(2, "ROM14_Random_Gestures")
        assert rec.quaternion.shape == (40, 7, 4)


def test_no_noise_layout_and_fps(tmp_path):
    model = tmp_path / "stick.npz"
    save_stick_hand(model)
    out = tmp_path / "s.h5"
    assert main(["synth", "imu", "--subjects", "1", "--out", str(out), "--no-noise", "--layout", "sparse2",
                 "--fps", "60", "--frames-per-sequence", "30", "--sequences", "ROM15", "--model", str(model)]) == 0  # fmt: skip
    with ImuFile(out) as f:
        rec = f.read(1, "ROM15_Calibration")
        assert rec.sensor_names == ("index", "back") and rec.fps == 60.0
        assert f.attrs["noise"]["white"] is False
        # Ideal back sensor: free acceleration is the hand's own, tiny during calibration holds.
        assert np.abs(rec.free_acceleration[:, 1]).max() < 1.0


def test_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "x.h5"
    assert main(["synth", "imu", "--subjects", "0", "--out", str(out)]) == 2
    assert main(["synth", "imu", "--out", str(out), "--sequences", "ROM99"]) == 2
    assert main(["synth", "imu", "--out", str(out), "--layout", "glove9"]) == 2
    assert main(["synth", "imu", "--out", str(out), "--acc-smoothing", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("handpose: error:") == 4
    assert not out.exists()
