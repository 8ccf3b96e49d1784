"""The torchvision shim: a real FrozenBatchNorm2d; installed only when torchvision fails to
import; never shadows a working torchvision."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from handpose.models.backbones.timm_compat import FrozenBatchNorm2d

ROOT = Path(__file__).resolve().parents[3]


def test_frozen_batchnorm_matches_eval_batchnorm():
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(5).eval()
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean):
            t.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    frozen = FrozenBatchNorm2d(5)
    frozen.load_state_dict(bn.state_dict())  # num_batches_tracked is dropped
    x = torch.randn(2, 5, 3, 4)
    torch.testing.assert_close(frozen(x), bn(x))
    # hand-computed: y = (x − μ)/√(σ² + eps)·γ + β
    ref = (x - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + 1e-5)
    ref = ref * bn.weight[:, None, None] + bn.bias[:, None, None]
    torch.testing.assert_close(frozen(x), ref.detach())
    assert not list(frozen.parameters())


def _run(tmp_path: Path, fake_init: str, code: str) -> dict:
    pkg = tmp_path / "fake" / "torchvision"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(fake_init)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "fake"), str(ROOT)]))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_shim_replaces_a_broken_torchvision_and_timm_runs(tmp_path):
    result = _run(
        tmp_path,
        "raise RuntimeError('operator torchvision::nms does not exist')\n",
        """
        import json, torch
        from handpose.models.backbones.timm_compat import import_timm, torchvision_is_shim, FrozenBatchNorm2d
        timm = import_timm()
        import torchvision.ops.misc as misc
        from torchvision.transforms import functional as F
        try:
            F.InterpolationMode()
            placeholder_raises = False
        except ImportError:
            placeholder_raises = True
        try:
            import torchvision.models.feature_extraction
            fx_absent = False
        except ImportError:
            fx_absent = True
        m = timm.create_model("resnet18", features_only=True, out_indices=(4,))
        y = m(torch.zeros(1, 3, 64, 64))[0]
        print(json.dumps({
            "shim": torchvision_is_shim(),
            "frozen_bn_is_real": misc.FrozenBatchNorm2d is FrozenBatchNorm2d,
            "placeholder_raises": placeholder_raises,
            "fx_absent": fx_absent,
            "shape": list(y.shape),
        }))
        """,
    )
    assert result == {
        "shim": True,
        "frozen_bn_is_real": True,
        "placeholder_raises": True,
        "fx_absent": True,
        "shape": [1, 512, 2, 2],
    }


def test_a_working_torchvision_is_never_shadowed(tmp_path):
    result = _run(
        tmp_path,
        "__version__ = '9.9.9'\nWORKING = True\n",
        """
        import json, sys
        from handpose.models.backbones import timm_compat
        timm_compat._install_shim_if_needed()
        import torchvision
        print(json.dumps({
            "shim": timm_compat.torchvision_is_shim(),
            "working": getattr(torchvision, "WORKING", False),
            "finder": any(isinstance(f, timm_compat._ShimFinder) for f in sys.meta_path),
        }))
        """,
    )
    assert result == {"shim": False, "working": True, "finder": False}
