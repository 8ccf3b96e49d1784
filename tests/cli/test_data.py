"""``handpose data convert|info|plot`` through ``handpose.cli.main``."""

import pytest

from handpose.cli import main
from handpose.handmodel import HandModel
from handpose.simulators.synth import SynthConfig, synthesize_file
from tests.datasets.vihand_fixture import make_vihand
from tests.simulators.standin import save_stick_hand, stick_hand_data


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    model = d / "stick.npz"
    save_stick_hand(model)
    out = d / "s.h5"
    cfg = SynthConfig(subjects=1, sequences=("ROM03_Finger_Tapping",), frames_per_sequence=60)
    synthesize_file(cfg, out, HandModel(stick_hand_data()))
    return out, model


def test_info(synth, capsys):
    out, _ = synth
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "subject  1  ROM03_Finger_Tapping" in text and "layout: vihand7" in text


def test_plot_writes_a_png(synth, tmp_path):
    out, model = synth
    png = tmp_path / "p.png"
    args = ["data", "plot", str(out), "--subject", "1", "--sequence", "ROM03", "--out", str(png),
            "--seconds", "1.5", "--frames", "3", "--model", str(model)]  # fmt: skip
    assert main(args) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plot_errors(synth, tmp_path):
    out, model = synth
    png = tmp_path / "p.png"
    assert (
        main(["data", "plot", str(out), "--subject", "1", "--sequence", "ROM09", "--out", str(png)])
        == 2
    )
    assert main(["data", "plot", str(out), "--subject", "1", "--sequence", "ROM03", "--start", "100",
                 "--out", str(png), "--model", str(model)]) == 2  # fmt: skip
    assert not png.exists()


def test_convert_vihand_options(tmp_path, capsys):
    root = tmp_path / "vihand"
    make_vihand(root, T=6)
    out = tmp_path / "v.h5"
    args = [
        "data",
        "convert",
        "vihand",
        str(root),
        str(out),
        "--acc-gravity",
        "yes",
        "--hands-mean",
        "relative",
    ]
    assert main(args) == 0
    assert "6 sequences" in capsys.readouterr().out
    assert main(["data", "info", str(out)]) == 0
    assert "mano_flat_hand_mean: False" in capsys.readouterr().out
    assert (
        main(["data", "convert", "vihand", str(tmp_path / "nowhere"), str(tmp_path / "w.h5")]) == 2
    )
