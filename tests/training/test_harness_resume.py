"""Resume continues an interrupted image run bit for bit (augmentation and stochastic depth on),
and finished stages are skipped."""

import lightning as L
import pytest
import torch

from handpose.training import harness, read_checkpoint, read_metrics
from training.imagedata import write_tiny_shards

OVERRIDES = ["train.epochs=3", "data.augment=true", "model.drop_path_rate=0.3"]


class Crash(L.Callback):
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.current_epoch == 1 and batch_idx == 1:
            raise RuntimeError("simulated crash")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_tiny_shards(tmp_path_factory.mktemp("resume") / "shards", train=12, val=4)


def test_interrupted_run_resumes_bit_for_bit(data, tmp_path):
    cfg = harness.load_method_config("baseline", "tiny", OVERRIDES)
    ref = harness.train("baseline", cfg, data, tmp_path / "ref")["main"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        harness.train("baseline", cfg, data, tmp_path / "run", callbacks=[Crash()])
    last = tmp_path / "run" / "main" / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last)["epoch"] == 0  # written at the end of epoch 0, before the crash
    resumed = harness.train("baseline", cfg, data, tmp_path / "run", resume=True)["main"]
    a, b = read_checkpoint(ref), read_checkpoint(resumed)
    assert a["epoch"] == b["epoch"] == 2 and a["global_step"] == b["global_step"] == 9
    for k, v in a["state_dict"].items():
        assert torch.equal(b["state_dict"][k], v), k
    assert torch.equal(a["handpose_rng"]["torch"], b["handpose_rng"]["torch"])

    def losses(out):
        return [(r["step"], r["train/loss"]) for r in read_metrics(out) if r.get("train/loss")]

    assert (tmp_path / "run" / "main" / "csv" / "metrics.part1.csv").exists()
    assert losses(tmp_path / "run" / "main") == losses(tmp_path / "ref" / "main")

    # Resuming a finished run does nothing; a fresh train into it is refused.
    again = harness.train("baseline", cfg, data, tmp_path / "run", resume=True)["main"]
    assert read_checkpoint(again)["global_step"] == 9
    from handpose.errors import HandposeError

    with pytest.raises(HandposeError, match="already holds a run"):
        harness.train("baseline", cfg, data, tmp_path / "run")
