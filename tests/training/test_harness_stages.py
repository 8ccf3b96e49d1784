"""The harness with a two-stage toy method: stage chaining, freezing, feature caching."""

import json

import lightning as L
import pytest
import torch

from handpose.errors import HandposeError
from handpose.training import harness
from handpose.training.features import FeatureCache, cache_key
from handpose.training.registry import Method, Stage
from training import toymethod
from training.imagedata import write_tiny_shards


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_tiny_shards(tmp_path_factory.mktemp("toydata") / "shards", train=12, val=4)


@pytest.fixture(scope="module")
def toy():
    return toymethod.register()


@pytest.fixture(scope="module")
def enc_run(toy, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "run"
    cfg = harness.load_method_config(toy, toy_yaml(tmp_path_factory))
    paths = harness.train(toy, cfg, data, out, stages=["enc"])
    return {"out": out, "cfg": cfg, "enc": paths["enc"]}


def toy_yaml(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "toy.yaml"
    path.write_text("name: toy\nseed: 3\n")
    return path


class FrozenProbe(L.Callback):
    def on_train_start(self, trainer, module):
        self.before = {k: v.clone() for k, v in module.model.enc.state_dict().items()}
        self.head_before = {k: v.clone() for k, v in module.model.head.state_dict().items()}
        self.modes, self.grads = [], []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.modes.append((module.model.enc.training, module.model.head.training))

    def on_after_backward(self, trainer, module):
        self.grads.append([p.grad for p in module.model.enc.parameters()])
        self.head_grads = [p.grad for p in module.model.head.parameters()]

    def on_train_end(self, trainer, module):
        self.after = {k: v.clone() for k, v in module.model.enc.state_dict().items()}
        self.head_after = {k: v.clone() for k, v in module.model.head.state_dict().items()}


def test_required_stage_is_loaded_frozen_and_unchanged(toy, enc_run, data, tmp_path):
    probe = FrozenProbe()
    paths = harness.train(toy, enc_run["cfg"], data, tmp_path / "run", stages=["head"],
                          requires={"enc": enc_run["enc"]}, callbacks=[probe])  # fmt: skip
    # eval mode for the frozen encoder (BatchNorm statistics frozen), train mode for the head
    assert probe.modes and all(m == (False, True) for m in probe.modes)
    assert all(g is None for step in probe.grads for g in step)
    assert all(g is not None for g in probe.head_grads)
    for k, v in probe.before.items():
        assert torch.equal(v, probe.after[k]), k
    assert any(not torch.equal(v, probe.head_after[k]) for k, v in probe.head_before.items())
    # the frozen weights are the enc checkpoint's, and the head checkpoint is self-contained
    enc, _ = harness.load_model(enc_run["enc"], "toy", "enc")
    for k, v in enc.state_dict().items():
        assert torch.equal(v, probe.before[k]), k
    full, meta = harness.load_model(paths["head"])
    assert meta["stage"] == "head" and meta["requires"]["enc"]["checkpoint"] == str(enc_run["enc"])
    assert torch.equal(full.enc.body[0].weight, enc.body[0].weight)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(full.enc.features(x), enc.features(x))


def test_stage_chaining_uses_the_earlier_stage_of_the_same_run(toy, enc_run, data):
    paths = harness.train(toy, enc_run["cfg"], data, enc_run["out"], stages=["head"])
    meta = harness.load_model(paths["head"])[1]
    assert meta["requires"]["enc"]["checkpoint"] == str(enc_run["enc"])
    assert (enc_run["out"] / "head" / "config.yaml").exists()


def test_missing_required_stage_is_one_clear_error(toy, data, tmp_path):
    cfg = harness.method_config_from_dict(toy, {})
    with pytest.raises(HandposeError, match="needs a trained 'enc' stage"):
        harness.train(toy, cfg, data, tmp_path / "fresh", stages=["head"])
    assert not (tmp_path / "fresh").exists()


def test_cached_training_equals_uncached_training(toy, enc_run, data, tmp_path):
    plain = harness.train(toy, enc_run["cfg"], data, tmp_path / "plain", stages=["head"],
                          requires={"enc": enc_run["enc"]})["head"]  # fmt: skip
    cfg = harness.method_config_from_dict(toy, {"name": "toy", "seed": 3, "cache": True})
    toymethod.DATA_MODULES.clear()
    cached = harness.train(toy, cfg, data, tmp_path / "cached", stages=["head"],
                           requires={"enc": enc_run["enc"]})["head"]  # fmt: skip
    assert toymethod.DATA_MODULES[-1].extract_calls == 2 + 1  # train 12 → 2 batches, val 4 → 1
    a, _ = harness.load_model(plain)
    b, _ = harness.load_model(cached)
    for k, v in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[k], v, rtol=1e-5, atol=1e-6)
    moved = harness.load_model(enc_run["enc"])[0]
    assert not torch.equal(a.head[0].weight, Full0(moved).head[0].weight)  # it did train

    # A second cached run reuses the cache: the frozen encoder does not run again.
    toymethod.DATA_MODULES.clear()
    harness.train(toy, cfg, data, tmp_path / "cached2", stages=["head"],
                  requires={"enc": enc_run["enc"]})  # fmt: skip
    assert toymethod.DATA_MODULES[-1].extract_calls == 0
    caches = sorted(p.name for p in (enc_run["enc"].parent.parent / "cache").iterdir())
    assert len(caches) == 2 and all(c.startswith("enc-") for c in caches)  # train and val


def Full0(enc):
    """The head a fresh ``head`` stage starts from (seed 3), for the 'it trained' check."""
    L.seed_everything(3, verbose=False)
    return toymethod.Full(8, enc)


def test_feature_cache_keys_and_stale_detection(tmp_path):
    calls = []

    def extract(batch):
        calls.append(len(batch))
        return {"x": batch * 2.0, "i": batch.long()}

    batches = [torch.arange(3.0), torch.arange(3.0, 5.0)]
    key = cache_key("ckptA", "dataA", "train", size=32)
    cache = FeatureCache(tmp_path, "tw", key, chunk_size=2)
    assert cache.status() == "missing"
    with pytest.raises(HandposeError, match="missing"):
        cache.open()
    feats = cache.get_or_build(extract, batches, 5)
    assert cache.status() == "valid" and len(feats) == 5 and calls == [3, 2]
    assert [float(feats[i]["x"]) for i in range(5)] == [0, 2, 4, 6, 8]
    assert int(feats[4]["i"]) == 4 and len(list(cache.folder.glob("chunk-*.pt"))) == 3
    # valid: reused without extracting
    FeatureCache(tmp_path, "tw", dict(key), chunk_size=2).get_or_build(extract, batches, 5)
    assert calls == [3, 2]
    # a changed checkpoint, dataset, split or option is another key, another folder
    for other in (cache_key("ckptB", "dataA", "train", size=32),
                  cache_key("ckptA", "dataB", "train", size=32),
                  cache_key("ckptA", "dataA", "val", size=32),
                  cache_key("ckptA", "dataA", "train", size=64)):  # fmt: skip
        c = FeatureCache(tmp_path, "tw", other)
        assert c.folder != cache.folder and c.status() == "missing"
    changed = FeatureCache(tmp_path, "tw", cache_key("ckptB", "dataA", "train", size=32))
    changed.get_or_build(extract, batches, 5)
    assert calls == [3, 2, 3, 2] and changed.others() == [cache.folder]
    # a folder whose stored key disagrees with its name (edited, copied) is stale and rebuilt
    meta = json.loads((cache.folder / "meta.json").read_text())
    meta["parts"]["checkpoint"] = "ckptZ"
    (cache.folder / "meta.json").write_text(json.dumps(meta))
    assert cache.status() == "stale"
    cache.get_or_build(extract, batches, 5)
    assert cache.status() == "valid" and calls == [3, 2, 3, 2, 3, 2]
    (cache.folder / "chunk-00001.pt").unlink()  # incomplete
    assert cache.status() == "stale"
    # a wrong count is refused and leaves nothing behind
    bad = FeatureCache(tmp_path, "bad", key)
    with pytest.raises(HandposeError, match="expected 6"):
        bad.build(extract, batches, 6)
    assert not bad.folder.exists() and not list(tmp_path.glob(".bad-*"))


def test_data_fingerprint_follows_content(data, tmp_path):
    import shutil

    from handpose.training.fingerprint import data_fingerprint

    fp = data_fingerprint(data)
    assert data_fingerprint(f"{data}:val") == fp and len(fp) == 16
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    assert data_fingerprint(copy) == fp
    shard = copy / "val-00000.h5"
    shard.write_bytes(shard.read_bytes() + b"\0")
    assert data_fingerprint(copy) != fp
    with pytest.raises(HandposeError, match="does not exist"):
        data_fingerprint(tmp_path / "nothing")


def test_method_definitions_are_checked():
    dummy = dict(module=lambda c: None, data=lambda c: None, build_model=lambda c: None)
    with pytest.raises(ValueError, match="not earlier stages"):
        Method(
            "m", toymethod.ToyConfig, (Stage("b", requires=("a",), **dummy), Stage("a", **dummy))
        )
    with pytest.raises(ValueError, match="exactly one of build_model and load"):
        Stage("a", lambda c: None, lambda c: None)
    with pytest.raises(HandposeError, match="unknown method 'nope'"):
        harness.load_method_config("nope")
    with pytest.raises(HandposeError, match="has no stage 'x'"):
        toymethod.METHOD.stage("x")
