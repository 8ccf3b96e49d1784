"""EHPE on the harness: the two stages, the frozen TW-stage, the feature cache, the variants
without a second stage, and a short run lowering the loss."""

import lightning as L
import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.ehpe import EHPE
from handpose.training import harness
from handpose.training.config import TrainConfig
from handpose.training.methods.ehpe import StepSchedule, adam_step_schedule
from training.imagedata import write_tiny_shards


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_tiny_shards(
        tmp_path_factory.mktemp("ehpedata") / "shards", train=12, val=4, size=64
    )


def _cfg(*sets):
    return harness.load_method_config("ehpe", "tiny", list(sets))


@pytest.fixture(scope="module")
def tw_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ehpe") / "run"
    cfg = _cfg("tw_train.epochs=3")
    paths = harness.train("ehpe", cfg, data, out, stages=["tw"])
    return {"out": out, "cfg": cfg, "tw": paths["tw"]}


def _losses(run_dir, key):
    from handpose.training import read_metrics

    rows = read_metrics(run_dir)
    return [float(r[key]) for r in rows if r.get(key) not in (None, "")]


def test_tw_stage_lowers_its_loss_and_its_checkpoint_is_not_a_whole_model(tw_run):
    losses = _losses(tw_run["out"] / "tw", "train/loss")
    assert len(losses) >= 6 and sum(losses[-3:]) < sum(losses[:3])
    model, meta = harness.load_model(tw_run["tw"], "ehpe", "tw")
    assert meta["stage"] == "tw" and model.pg is None
    with pytest.raises(HandposeError, match="only its TW-stage"):
        model(torch.zeros(1, 3, 64, 64))


class FrozenProbe(L.Callback):
    def on_train_start(self, trainer, module):
        self.before = {k: v.clone() for k, v in module.model.tw.state_dict().items()}
        self.pg_before = {k: v.clone() for k, v in module.model.pg.state_dict().items()}
        self.modes, self.tw_grads = [], []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.modes.append((module.model.tw.training, module.model.pg.training))

    def on_after_backward(self, trainer, module):
        self.tw_grads += [p.grad for p in module.model.tw.parameters()]
        self.pg_grads = [p.grad for p in module.model.pg.parameters() if p.requires_grad]

    def on_train_end(self, trainer, module):
        self.after = {k: v.clone() for k, v in module.model.tw.state_dict().items()}
        self.pg_after = {k: v.clone() for k, v in module.model.pg.state_dict().items()}


@pytest.mark.parametrize("cache", [False, True])
def test_pg_stage_trains_on_a_frozen_tw_stage(tw_run, data, tmp_path, cache):
    probe = FrozenProbe()
    cfg = _cfg("tw_train.epochs=3", "pg_train.epochs=3", f"cache={str(cache).lower()}")
    paths = harness.train("ehpe", cfg, data, tmp_path / "run", stages=["pg"],
                          requires={"tw": tw_run["tw"]}, callbacks=[probe])  # fmt: skip
    # the frozen TW-stage: eval mode, no gradient, unchanged (BatchNorm statistics included)
    assert probe.modes and all(m == (False, True) for m in probe.modes)
    assert probe.tw_grads and all(g is None for g in probe.tw_grads)
    assert all(g is not None for g in probe.pg_grads)
    for k, v in probe.before.items():
        assert torch.equal(v, probe.after[k]), k
    assert any(not torch.equal(v, probe.pg_after[k]) for k, v in probe.pg_before.items())
    losses = _losses(tmp_path / "run" / "pg", "train/loss")
    assert sum(losses[-3:]) < sum(losses[:3])
    # the pg checkpoint is a whole model holding the tw checkpoint's TW-stage
    full, meta = harness.load_model(paths["pg"], "ehpe", "pg")
    tw, _ = harness.load_model(tw_run["tw"], "ehpe", "tw")
    assert meta["requires"]["tw"]["checkpoint"] == str(tw_run["tw"])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(full.tw(x).coords, tw.tw(x).coords)
        out = full(x)
    assert out.joints.shape == (2, 21, 3) and torch.isfinite(out.joints).all()
    if cache:  # beside the frozen checkpoint, shared by every PG run that loads it
        assert len(list((tw_run["out"] / "tw" / "cache").glob("tw-*"))) == 2  # train, val


class HeadInputs(L.Callback):
    """Records, for every PG-stage call after the sanity check, the TW joints it was given and
    the batch's true TW joints (2.5D)."""

    def on_train_start(self, trainer, module):
        from handpose.training.methods.ehpe import hand_targets

        self.calls, self.truth = [], []
        head = module.model.head

        def recording(features, tw_coords, latent, size):
            self.calls.append((module.training, tw_coords.detach().clone()))
            return head(features, tw_coords, latent, size)

        def truth(batch):
            t = hand_targets(batch, module.model)["targets"]
            self.truth.append(t[:, list(module.model.tw_joints)].clone())

        module.model.head = recording
        self.record = truth

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.record(batch)

    def on_validation_batch_start(self, trainer, module, batch, batch_idx, dataloader_idx=0):
        if hasattr(self, "record"):
            self.record(batch)


@pytest.mark.parametrize("pg_input", ["estimates", "labels"])
def test_pg_stage_input_is_the_tw_estimates_or_in_training_the_labels(
    tw_run, data, tmp_path, pg_input
):
    probe = HeadInputs()
    cfg = _cfg("tw_train.epochs=3", "pg_train.epochs=2", "cache=true", f"pg_input={pg_input}")
    harness.train("ehpe", cfg, data, tmp_path / "run", stages=["pg"],
                  requires={"tw": tw_run["tw"]}, callbacks=[probe])  # fmt: skip
    assert len(probe.calls) == len(probe.truth) > 0
    train = [(c, t) for (training, c), t in zip(probe.calls, probe.truth) if training]
    val = [(c, t) for (training, c), t in zip(probe.calls, probe.truth) if not training]
    assert train and val
    for c, t in val:  # validation always reads the TW-stage's estimates
        assert not torch.allclose(c, t.to(c.dtype), atol=1e-2)
    for c, t in train:
        if pg_input == "labels":
            torch.testing.assert_close(c, t.to(c.dtype))
        else:
            assert not torch.allclose(c, t.to(c.dtype), atol=1e-2)
    with pytest.raises(HandposeError, match="pg_input"):
        _cfg("pg_input=truth")


def test_cached_inputs_equal_the_frozen_tw_stage_on_the_fly(tw_run, data, tmp_path):
    from handpose.training.fingerprint import data_fingerprint
    from handpose.training.image_data import IndexedDataset, image_loader, open_image_split
    from handpose.training.methods.ehpe import PGCachedData, PGModule, hand_targets
    from handpose.training.registry import StageContext, get_method

    cfg = _cfg("cache=true")
    tw, _ = harness.load_model(tw_run["tw"], "ehpe", "tw")
    tw.requires_grad_(False)
    ctx = StageContext(get_method("ehpe"), "pg", cfg, data, tmp_path, data_fingerprint(data),
                       frozen={"tw": tw}, frozen_checkpoints={"tw": tw_run["tw"]},
                       cache_dir=tmp_path / "cache")  # fmt: skip
    dm = PGCachedData(ctx)
    dm.setup("fit")
    module = PGModule(cfg, tw).eval()
    ds = IndexedDataset(open_image_split(data, "val", cfg.data))
    batch = next(iter(image_loader(ds, 4, shuffle=False, seed=0, augmentation=None)))
    cached = next(iter(torch.utils.data.DataLoader(dm.val_set, batch_size=4)))
    with torch.no_grad():
        a, b = module._output(batch), module._output(cached)
    torch.testing.assert_close(a.joints, b.joints)
    ta, tb = hand_targets(batch, module.model), hand_targets(cached, module.model)
    torch.testing.assert_close(ta["targets"], tb["targets"])


def test_variants_without_a_second_stage(data, tmp_path):
    for sets in (["model.tw_joints=W+T+D+P+M", "model.pg.enabled=false"], ["model.tw_joints=none"]):
        cfg = _cfg("tw_train.epochs=1", *sets)
        out = tmp_path / sets[-1].split("=")[0].replace(".", "_")
        paths = harness.train("ehpe", cfg, data, out, stages=["tw"])
        model, _ = harness.load_model(paths["tw"])
        assert model(torch.zeros(1, 3, 64, 64)).joints.shape == (1, 21, 3)
        with pytest.raises(HandposeError, match="there is no stage 'pg'"):
            harness.train("ehpe", cfg, data, out, stages=["pg"], requires={"tw": paths["tw"]})


def test_step_schedule_and_bad_config():
    p = torch.nn.Parameter(torch.zeros(1))
    t = TrainConfig(epochs=4, lr=1.0, weight_decay=0.0, warmup_epochs=1.0)
    sched = adam_step_schedule([p], t, StepSchedule((2, 3), 0.1), total_steps=8)["lr_scheduler"]
    lam = sched["scheduler"].lr_lambdas[0]
    assert [round(lam(s), 6) for s in range(8)] == [0.5, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    with pytest.raises(HandposeError, match="milestones"):
        _cfg("pg_schedule.milestones=[3, 2]")
    with pytest.raises(HandposeError, match="multiple of"):
        _cfg("data.size=60")
    with pytest.raises(HandposeError, match="unknown config key 'model.pg.layers'"):
        _cfg("model.pg.layers=2")
    assert isinstance(EHPE(_cfg().model, 64), EHPE)


def test_memory_cache_loads_each_item_once():
    from handpose.training.methods.ehpe import MemoryCached

    calls = []

    class Source(list):
        def __getitem__(self, i):
            calls.append(i)
            return {"image": torch.full((3, 2, 2), float(i)), "K": torch.eye(3), "mask": 1}

    ds = MemoryCached(Source([0, 1, 2]))
    a, b = ds[1], ds[1]
    assert calls == [1] and torch.equal(a["image"], b["image"]) and "mask" not in a
    a["image"] = None  # a caller's dict does not reach the cache
    assert ds[1]["image"] is not None and len(ds) == 3


def test_handpose_eval_reads_an_ehpe_checkpoint_with_the_true_wrist_depth(tw_run, data, tmp_path):
    """`handpose eval` on EHPE (whose forward takes the image alone): 2.5D joints lifted with
    the ground-truth wrist depth, as the baseline's evaluation, checked by hand; with
    ``root_depth="model"`` the bone-length depth of inference instead."""
    import math

    from handpose.datasets.image_dataset import normalize_image
    from handpose.geometry.camera import uvz_to_xyz
    from handpose.reports.image_eval import evaluate_image_checkpoint, predict_split
    from handpose.training.image_data import open_image_split

    cfg = _cfg("tw_train.epochs=3", "pg_train.epochs=1", "cache=false")
    paths = harness.train("ehpe", cfg, data, tmp_path / "run", stages=["pg"],
                          requires={"tw": tw_run["tw"]})  # fmt: skip
    model, _ = harness.load_model(paths["pg"])
    ds = open_image_split(data, "test", cfg.data)
    preds, _ = predict_split(model, ds, progress=False)
    own, _ = predict_split(model, ds, progress=False, root_depth="model")
    for i in range(len(ds)):
        s = ds[i]
        slot = 0 if s["hand_valid"][0] else 1
        with torch.no_grad():
            out = model(normalize_image(s["image"])[None])
        j3 = uvz_to_xyz(out.uv[0], out.z_rel[0], s["joints3d"][slot, 0, 2], s["K"])
        torch.testing.assert_close(torch.as_tensor(preds["joints3d"][i, slot]), j3)
        torch.testing.assert_close(torch.as_tensor(own["joints3d"][i, slot]),
                                   model.joints3d(out, s["K"][None])[0], rtol=1e-5, atol=1e-4)  # fmt: skip
        torch.testing.assert_close(torch.as_tensor(preds["joints2d"][i, slot]), out.uv[0])
        assert torch.isnan(torch.as_tensor(preds["joints3d"][i, 1 - slot])).all()
    res = evaluate_image_checkpoint(paths["pg"], data, mesh="none", progress=False)
    assert res["num_samples"] == len(ds) and math.isfinite(res["result"]["pa_mpjpe"])


def test_oracle_tw_evaluation_feeds_the_true_tw_joints_to_the_pg_stage(tw_run, data, tmp_path):
    from handpose.experiments.ehpe import _predict, evaluate_checkpoint
    from handpose.training.image_data import IndexedDataset, image_loader
    from handpose.training.methods.baseline import single_hand_targets
    from handpose.training.methods.ehpe import open_split

    cfg = _cfg("tw_train.epochs=3", "pg_train.epochs=1", "cache=true")
    paths = harness.train("ehpe", cfg, data, tmp_path / "run", stages=["pg"],
                          requires={"tw": tw_run["tw"]})  # fmt: skip
    model, _ = harness.load_model(paths["pg"], "ehpe", "pg")
    assert model.config.pg.keep_tw
    ds = IndexedDataset(open_split(str(data), "val", cfg.data))
    loader = image_loader(ds, 4, shuffle=False, seed=0, augmentation=None)
    truth = torch.cat([single_hand_targets(b)["joints2d"] for b in loader])
    tw = list(model.tw_joints)
    bone = model.config.bone_length
    _, uv_est, *_ = _predict(model, loader, bone)
    _, uv_true, *_ = _predict(model, loader, bone, oracle_tw=True)
    # the kept TW joints are the labels themselves; the estimates are not
    torch.testing.assert_close(uv_true[:, tw], truth[:, tw].to(uv_true.dtype), atol=1e-3, rtol=0)
    assert (uv_est[:, tw] - truth[:, tw]).abs().max() > 0.5
    r = evaluate_checkpoint(paths["pg"], str(data), "val", mesh=None, oracle_tw=True, fps=False)
    assert r["fps_torch"] is None and r["metrics"]["pa_mpjpe"] > 0
    with pytest.raises(HandposeError, match="oracle TW joints need"):
        _predict(harness.load_model(tw_run["tw"], "ehpe", "tw")[0], loader, bone, oracle_tw=True)


def test_pg_stage_labels_replace_the_estimates_only_where_valid():
    from handpose.training.methods.ehpe import PGModule

    module = PGModule(_cfg("pg_input=labels")).eval()
    seen = []
    head = module.model.head
    module.model.head = lambda f, c, lat, size: seen.append(c) or head(f, c, lat, size)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        est = module.model.features(x)[1].coords
        t = len(module.model.tw_joints)
        labels = torch.full((2, t, 3), 7.0)
        valid = torch.ones(2, t, dtype=torch.bool)
        valid[1, 0] = False
        module._output({"image": x}, (labels, valid))
        module._output({"image": x})
    assert torch.equal(seen[0][valid], labels[valid])
    assert torch.equal(seen[0][1, 0], est[1, 0])
    assert torch.equal(seen[1], est)


@pytest.fixture(scope="module")
def pg_run(tw_run, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ehpe_pg") / "run"
    return harness.train("ehpe", _cfg("pg_train.epochs=1"), data, out, stages=["pg"],
                         requires={"tw": tw_run["tw"]})["pg"]  # fmt: skip


def test_two_hand_evaluation_roots_the_scale_alignment_where_asked(pg_run, tmp_path):
    """EHPE's Table 2 protocol aligns at the middle MCP; DIR's generalisation table scores the
    same model rooted at the wrist (``generalisation_result``): the two differ, the wrist-rooted
    result is the same evaluation with ``intaghand_root="wrist"``."""
    from handpose.experiments.ehpe import evaluate_checkpoint, generalisation_result
    from training.dir_data import write_two_hand_shards

    two = write_two_hand_shards(tmp_path / "two", train=1, val=1, test=4)
    held = write_two_hand_shards(tmp_path / "held", train=1, val=1, test=3)
    kw = dict(protocol="interhand", mesh=None, fps=False)
    mcp = evaluate_checkpoint(pg_run, two, "test", **kw)["metrics"]
    wrist = evaluate_checkpoint(pg_run, two, "test", intaghand_root="wrist", **kw)["metrics"]
    assert mcp["mpjpe_all"] > 0 and wrist["mpjpe_all"] > 0
    assert abs(mcp["mpjpe_all"] - wrist["mpjpe_all"]) > 1e-6
    gen = generalisation_result(pg_run, two, held, None)
    assert gen["root"] == "wrist" and gen["test"]["mpjpe_all"] == wrist["mpjpe_all"]
    assert gen["heldout"]["mpjpe_all"] > 0 and gen["heldout"] != gen["test"]
    with pytest.raises(HandposeError, match="interhand' protocol only"):
        evaluate_checkpoint(pg_run, two, "test", mesh=None, fps=False, intaghand_root="wrist")


def test_per_hand_items_fill_their_own_slot():
    """Item 2i + s is slot s of image i, also where that slot is empty (both flags off)."""
    from handpose.experiments.ehpe import per_hand_slots

    hv = torch.tensor([[1, 1], [1, 1], [0, 0], [0, 1], [1, 0], [0, 0]])
    slot, has = per_hand_slots(hv)
    assert slot.tolist() == [0, 1, 0, 1, 0, 1]
    assert has.tolist() == [True, True, False, True, True, False]
    with pytest.raises(HandposeError, match="two items per image"):
        per_hand_slots(hv[:5])


@pytest.mark.parametrize("mesh", [None, "fit"])
def test_an_empty_slot_prediction_changes_no_two_hand_metric(pg_run, tmp_path, monkeypatch, mesh):
    """A single-hand frame's absent hand is an item too; what the model says for it must not
    reach the metrics. The frames with only the left hand matter: their empty item is slot 0,
    which the labels alone would name slot 1, the left hand's."""
    import math

    from handpose.experiments import ehpe as E
    from training.dir_data import write_two_hand_shards

    two = write_two_hand_shards(tmp_path / "two", train=1, val=1, test=8, single_slots=(1,))
    kw = dict(protocol="interhand", mesh=mesh, fps=False, keep=0)
    base = E.evaluate_checkpoint(pg_run, two, "test", **kw)["metrics"]
    real = E._predict

    def junk_where_no_hand(*a, **k):
        j3, uv, slot, has, labels = real(*a, **k)
        empty = ~labels["hand_valid"].bool().any(-1)
        assert int(empty.sum()) == 2  # the two left-hand-only frames' empty right slot
        return torch.where(empty[:, None, None], 5.0, j3), uv, slot, has, labels

    monkeypatch.setattr(E, "_predict", junk_where_no_hand)
    junked = E.evaluate_checkpoint(pg_run, two, "test", **kw)["metrics"]
    assert math.isfinite(base["mpjpe_sh"]) and math.isfinite(base["mpjpe_left"])
    assert (base.get("mpvpe_sh") is not None) == (mesh is not None)
    assert junked == base
