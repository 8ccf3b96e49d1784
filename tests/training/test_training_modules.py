"""Lightning modules: the frozen teacher in stage 2, GT-free student inputs, checkpoints."""

import lightning as L
import pytest
import torch

from handpose.errors import HandposeError
from handpose.training import load_mgdhand, read_checkpoint, train_student, train_teacher
from handpose.training.checkpoints import checkpoint_metadata, model_state
from handpose.training.factory import build_hand_model
from handpose.training.modules import CosineSchedule, StudentModule


def test_cosine_schedule():
    s = CosineSchedule(warmup=4, total=14, min_ratio=0.1)
    assert [s(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s(4) == pytest.approx(1.0)
    assert s(9) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the cosine
    assert s(14) == pytest.approx(0.1) and s(100) == pytest.approx(0.1)
    assert CosineSchedule(0, 10, 0.0)(0) == 1.0


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory, tiny_files):
    from handpose.training import load_config

    cfg = load_config("tiny", [f"hand_model={tiny_files['hand']}", "train.epochs=1"])
    return train_teacher(cfg, tiny_files["data"], tmp_path_factory.mktemp("teacher") / "run")


class FrozenTeacherProbe(L.Callback):
    def on_train_start(self, trainer, module):
        self.teacher_before = {k: v.clone() for k, v in module.teacher.state_dict().items()}
        self.student_before = {k: v.clone() for k, v in module.student.state_dict().items()}
        self.modes, self.grads, self.teacher_outputs = [], [], []
        original = module.teacher_output

        def recording(batch):
            out = original(batch)
            self.teacher_outputs.append(out)
            return out

        module.teacher_output = recording

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.modes.append((module.teacher.training, module.student.training))

    def on_after_backward(self, trainer, module):
        self.grads.append([p.grad for p in module.teacher.parameters()])
        self.student_grads = sum(
            int(p.grad is not None) for p in module.student.parameters() if p.requires_grad
        )

    def on_train_end(self, trainer, module):
        self.teacher_after = module.teacher.state_dict()
        self.student_after = module.student.state_dict()


@pytest.mark.parametrize("variant", ["mgdistill", "simkd"])
def test_frozen_teacher_gets_no_gradient_and_does_not_change(
    variant, teacher_ckpt, tiny_files, tiny_cfg, tmp_path
):
    probe = FrozenTeacherProbe()
    train_student(
        tiny_cfg("train.epochs=1"), teacher_ckpt, tiny_files["data"], tmp_path / "s",
        variant=variant, callbacks=[probe],
    )  # fmt: skip
    assert probe.modes and all(t is False and s is True for t, s in probe.modes)
    assert all(g is None for step in probe.grads for g in step)
    assert probe.student_grads > 0
    for k, v in probe.teacher_before.items():
        assert torch.equal(v, probe.teacher_after[k]), k
    changed = [
        k for k, v in probe.student_before.items() if not torch.equal(v, probe.student_after[k])
    ]
    assert changed
    for out in probe.teacher_outputs:
        assert not out.features.requires_grad and not out.priors["pose"].requires_grad
    # The teacher inside the student module is the checkpoint's teacher.
    stored = model_state(read_checkpoint(teacher_ckpt), "teacher")
    for k, v in stored.items():
        assert torch.equal(v, probe.teacher_before[k])
    if variant == "simkd":
        head = {
            k[len("mano_head.") :]: v
            for k, v in probe.student_after.items()
            if k.startswith("mano_head.")
        }
        assert all(torch.equal(v, stored[f"mano_head.{k}"]) for k, v in head.items())


class RecordingDict(dict):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def test_student_inference_reads_only_the_imus(teacher_ckpt, tiny_cfg, tiny_files):
    from handpose.training.data import build_dataset

    cfg = tiny_cfg("data.student_sensors=sparse3")
    hand = build_hand_model(cfg)
    module = StudentModule(cfg, model_state(read_checkpoint(teacher_ckpt), "teacher"),
                           hand_model=hand).eval()  # fmt: skip
    ds = build_dataset(cfg, tiny_files["data"], "test", train=False)
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    rec = RecordingDict(batch)
    out = module.predict_step(rec)
    assert rec.read == {"imu"}
    assert out.joints.shape == (2, 8, 21, 3)
    # Same IMUs, different ground truth: identical predictions.
    other = dict(batch)
    for key in ("pose6d", "pose_aa", "betas", "joints"):
        other[key] = torch.randn_like(batch[key])
    other["mask"] = ~batch["mask"]
    assert torch.equal(module.predict_step(other).joints, out.joints)
    # And only the student's 3 sensors: changing the others changes nothing.
    imu = batch["imu"].clone()
    unused = [i for i in range(7) if i not in module.sensor_index]
    imu[:, :, unused] = torch.randn_like(imu[:, :, unused])
    assert torch.equal(module.predict_step({"imu": imu}).joints, out.joints)
    assert module.sensor_index == [0, 1, 5]  # thumb, index, back


def test_checkpoints_are_weights_only_and_rebuild_the_model(
    teacher_ckpt, tiny_files, tiny_cfg, tmp_path
):
    last = train_student(tiny_cfg("train.epochs=1"), teacher_ckpt, tiny_files["data"],
                         tmp_path / "s", variant="dpd")  # fmt: skip
    raw = torch.load(last, map_location="cpu", weights_only=True)
    meta = checkpoint_metadata(raw)
    assert meta["kind"] == "student" and meta["variant"] == "dpd"
    assert meta["teacher_checkpoint"] == str(teacher_ckpt)
    assert meta["student_sensors"] == ["thumb", "index", "middle", "ring", "pinky", "back", "wrist"]
    assert meta["fps"] == 30.0  # the training data's frame rate, read by inference
    assert not any(k.startswith("teacher.") for k in raw["state_dict"])
    assert not any(k.startswith("distiller.") for k in raw["state_dict"])  # MGD: no params
    student, meta2 = load_mgdhand(last)
    assert meta2 == meta and not student.training
    state = model_state(raw, "student")
    assert set(state) == set(student.state_dict())
    assert all(torch.equal(v, state[k]) for k, v in student.state_dict().items())
    imu = torch.randn(1, 8, 7, 12)
    assert torch.equal(student(imu).joints, load_mgdhand(last)[0](imu).joints)
    teacher, tmeta = load_mgdhand(teacher_ckpt)
    assert tmeta["kind"] == "teacher" and type(teacher).__name__ == "MGDHandTeacher"
    assert tmeta["fps"] == 30.0


def test_plain_loop_overfits_one_batch():
    """Teacher and student losses fall on a fixed batch (the models can learn at all)."""
    from models.fakes import FakeHandModel, random_batch

    from handpose.geometry.rotations import rotation_6d_to_matrix
    from handpose.losses import reconstruction_loss, teacher_loss
    from handpose.models.mgdhand import MGDHandStudent, MGDHandTeacher, NetworkConfig, PriorConfig

    torch.manual_seed(0)
    net = NetworkConfig(dim=16, depth=1, num_heads=2, mlp_ratio=2.0, head_hidden=16)
    hand = FakeHandModel()
    b = random_batch(batch=4, frames=8)
    rot = rotation_6d_to_matrix(b["pose6d"])
    with torch.no_grad():
        joints, verts = MGDHandTeacher(net, PriorConfig(8, 8, 8), hand_model=hand).decoder(
            rot, b["betas"]
        )
    for kind in ("teacher", "student"):
        cls = MGDHandTeacher if kind == "teacher" else MGDHandStudent
        model = cls(net, PriorConfig(8, 8, 8), maxlen=8, hand_model=hand)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        history = []
        for _ in range(40):
            if kind == "teacher":
                out = model(b["pose6d"], b["betas"], b["imu"], b["mask"])
                loss = teacher_loss(out, joints, rot, b["betas"], verts)["loss"]
            else:
                out = model(b["imu"])
                loss = reconstruction_loss(out, joints, rot, b["betas"], verts)["recon"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(loss.item())
        assert history[-1] < 0.8 * history[0], (kind, history[::10])


def test_student_sensors_must_include_the_root(monkeypatch, tiny_cfg):
    import handpose.training.factory as factory

    names = {"vihand7": ("thumb", "index", "back"), "sparse2": ("thumb", "index")}
    monkeypatch.setattr(factory, "sensor_names", lambda layout: names[layout])
    with pytest.raises(HandposeError, match="'back' root sensor"):
        factory.student_sensor_indices(tiny_cfg("data.student_sensors=sparse2"))


def test_teacher_module_uses_the_batch_mask_or_samples_one(tiny_cfg):
    from handpose.handmodel import HandModel
    from handpose.training.modules import TeacherModule
    from training.tinydata import stick_hand_data

    hand = HandModel(stick_hand_data(), side="right")
    module = TeacherModule(tiny_cfg("data.p_mask=0.5"), hand_model=hand)
    batch = {"pose6d": torch.zeros(3, 8, 16, 6), "mask": torch.ones(3, 8, 16, dtype=torch.bool)}
    assert module.mask(batch) is batch["mask"]
    torch.manual_seed(0)
    drawn = module.mask({"pose6d": torch.zeros(3, 8, 16, 6)})
    assert drawn.shape == (3, 8, 16) and drawn.dtype == torch.bool
    assert 0.5 < drawn.float().mean() < 0.95  # 1 − 0.5·0.5 = 0.75 expected
    none = TeacherModule(tiny_cfg("data.p_mask=0.0"), hand_model=hand)
    assert not none.mask({"pose6d": torch.zeros(3, 8, 16, 6)}).any()


def test_vertex_subset_and_input_skip_reach_the_modules(tiny_cfg, tiny_files):
    """Phase 2: ``loss.reconstruction.vertex_stride`` and ``teacher.input_skip`` from config."""
    from handpose.handmodel import HandModel
    from handpose.training.data import build_dataset
    from handpose.training.modules import TeacherModule
    from training.tinydata import stick_hand_data

    hand = HandModel(stick_hand_data(), side="right")
    cfg = tiny_cfg("loss.reconstruction.vertex_stride=4", "teacher.input_skip=true")
    module = TeacherModule(cfg, hand_model=hand)
    assert module.model.input_skip
    ids = module.loss_vertex_ids(module.model.decoder)
    assert ids.tolist() == list(range(0, hand.num_vertices, 4))
    ds = build_dataset(cfg, tiny_files["data"], "train", train=True)
    batch = {k: v[None] if torch.is_tensor(v) else v for k, v in ds[0].items()}
    targets = module._targets(batch, module.model.decoder)
    out = module(batch)
    assert targets["vertices"].shape[-2] == out.vertices.shape[-2] == len(ids)
    _, full = module.model.decoder(
        out.rotmats, out.betas, return_vertices=True
    )  # the subset is the full mesh's every 4th vertex
    torch.testing.assert_close(out.vertices, full[..., ids, :])
    plain = TeacherModule(tiny_cfg(), hand_model=hand)
    assert plain.loss_vertex_ids(plain.model.decoder) is None and not plain.model.input_skip


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "folder"])
def test_read_checkpoint_turns_every_load_failure_into_one_line(tmp_path, kind):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(64, 64)}}, good)
    bad = tmp_path / "bad.ckpt"
    if kind == "folder":
        bad.mkdir()
    else:
        data = good.read_bytes()
        bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": bytes(range(256)) * 8,
                         "empty": b""}[kind])  # fmt: skip
    with pytest.raises(HandposeError) as info:
        read_checkpoint(bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)
