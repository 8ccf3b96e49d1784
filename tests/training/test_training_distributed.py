"""DDP with 2 CPU processes matches one process; a killed run resumes to the same result.

Both run the real CLI in subprocesses (Lightning's DDP launcher re-runs the command for rank 1),
with one intra-op thread per process so that the two sides compute identically.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from handpose.training import read_checkpoint, read_metrics

pytestmark = pytest.mark.slow


def run(args, cwd, timeout=240):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    env.pop("MASTER_PORT", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def cli_args(tiny_files, out, *extra):
    return ["-m", "handpose", "train", "teacher", "--config", "tiny",
            "--data", str(tiny_files["data"]), "--out", str(out),
            "--set", f"hand_model={tiny_files['hand']}", "--set", "train.threads=1",
            "--accelerator", "cpu", *extra]  # fmt: skip


def test_ddp_two_processes_match_one(tiny_files, tmp_path):
    one = run(cli_args(tiny_files, tmp_path / "one", "--epochs", "2", "--devices", "1"), tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    two = run(cli_args(tiny_files, tmp_path / "two", "--epochs", "2", "--devices", "2"), tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    # Both ranks joined one gloo process group of two.
    assert "MEMBER: 2/2" in two.stderr and "distributed_backend=gloo" in two.stderr
    c1 = read_checkpoint(tmp_path / "one" / "checkpoints" / "last.ckpt")
    c2 = read_checkpoint(tmp_path / "two" / "checkpoints" / "last.ckpt")
    assert c1["global_step"] == c2["global_step"] == 6  # 12 windows / batch 4 × 2 epochs
    w1, w2 = c1["state_dict"], c2["state_dict"]
    assert set(w1) == set(w2)
    for k in w1:
        assert torch.allclose(w1[k], w2[k], atol=2e-5, rtol=1e-4), k
    moved = max((w1[k] - w0).abs().max().item() for k, w0 in initial_weights(tiny_files).items())
    assert moved > 1e-3  # they did train, so the agreement is not trivial


def initial_weights(tiny_files):
    import lightning as L

    from handpose.training import load_config
    from handpose.training.modules import TeacherModule

    cfg = load_config("tiny", [f"hand_model={tiny_files['hand']}"])
    L.seed_everything(cfg.seed, verbose=False)
    return TeacherModule(cfg).state_dict()


def test_killed_run_resumes_to_the_same_result(tiny_files, tmp_path):
    epochs = "4"
    ref = run(cli_args(tiny_files, tmp_path / "ref", "--epochs", epochs), tmp_path)
    assert ref.returncode == 0, ref.stderr[-3000:]
    script = tmp_path / "killed.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, signal
        import lightning as L
        from handpose.training import load_config, train_teacher

        class KillMidEpoch(L.Callback):
            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                if trainer.current_epoch == 2 and batch_idx == 1:
                    os.kill(os.getpid(), signal.SIGKILL)

        cfg = load_config("tiny", ["hand_model={tiny_files["hand"]}", "train.threads=1",
                                   "train.epochs={epochs}", "train.accelerator=cpu"])
        train_teacher(cfg, {str(tiny_files["data"])!r}, {str(tmp_path / "run")!r},
                      callbacks=[KillMidEpoch()])
    """)
    )
    killed = run([str(script)], tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    partial = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert partial["epoch"] == 1  # the end-of-epoch-1 checkpoint, written before the kill
    resumed = run(cli_args(tiny_files, tmp_path / "run", "--epochs", epochs, "--resume"), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    reference = read_checkpoint(tmp_path / "ref" / "checkpoints" / "last.ckpt")
    assert final["epoch"] == reference["epoch"] == 3
    assert final["global_step"] == reference["global_step"]
    for k, v in reference["state_dict"].items():
        assert torch.equal(final["state_dict"][k], v), k

    # The logs of the two segments join into the uninterrupted run's log.
    def losses(out):
        return [(r["step"], r["train/loss"]) for r in read_metrics(out) if r.get("train/loss")]

    assert (tmp_path / "run" / "csv" / "metrics.part1.csv").exists()
    assert losses(tmp_path / "run") == losses(tmp_path / "ref")
