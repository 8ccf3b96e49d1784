"""The benchmarks' device options (benchmarks/_device.py): the CUDA path without a GPU."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def dev():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("_device")
    finally:
        sys.path.remove(str(BENCH))


def _parse(dev, argv):
    p = argparse.ArgumentParser()
    dev.add_device_args(p)
    args = p.parse_args(argv)
    return dev.resolve_device(p, args)


def test_cpu_default(dev):
    assert _parse(dev, []) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_gpu_is_a_usage_error(dev, capsys):
    with pytest.raises(SystemExit) as e:
        _parse(dev, ["--device", "cuda"])
    assert e.value.code == 2
    assert "--device cuda" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--device", "tpu"], ["--device", "cpu", "--dtype", "float16"]])
def test_bad_device_or_dtype(dev, argv):
    with pytest.raises(SystemExit) as e:
        _parse(dev, argv)
    assert e.value.code == 2


def test_synced_synchronises_cuda_after_the_call(dev, monkeypatch):
    order = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: order.append("sync"))
    fn = dev.synced(lambda: order.append("call") or 7, torch.device("cuda"))
    assert fn() == 7
    assert order == ["call", "sync"]
    order.clear()
    dev.sync(torch.device("cuda", 1))
    dev.sync(torch.device("cpu"))
    assert order == ["sync"]
    cpu_fn = lambda: 3  # noqa: E731
    assert dev.synced(cpu_fn, torch.device("cpu")) is cpu_fn


def test_torch_call_autocast_and_inference_mode(dev):
    lin = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    cpu = torch.device("cpu")
    out32 = dev.torch_call(lambda: lin(x), cpu, "float32")()
    out16 = dev.torch_call(lambda: lin(x), cpu, "bfloat16")()
    assert out32.dtype == torch.float32 and out32.is_inference()
    assert out16.dtype == torch.bfloat16
    assert not dev.torch_call(lambda: lin(x), cpu, "float32", torch.no_grad)().is_inference()
    torch.testing.assert_close(out16.float(), out32, atol=0.05, rtol=0.05)


def test_ort_providers(dev, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    assert dev.ort_providers(torch.device("cpu")) == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert dev.ort_providers(torch.device("cuda")) is None
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    got = dev.ort_providers(torch.device("cuda", 1))
    assert got[0] == ("CUDAExecutionProvider", {"device_id": 1})


def test_matmul_call_counts_flops(dev):
    fn, flops = dev.matmul_call(torch.device("cpu"), "float32", n=64)
    assert flops == 2 * 64**3
    assert fn().shape == (64, 64)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
@pytest.mark.parametrize("script", ["bench_ehpe", "bench_dir", "bench_pgte", "bench_backbones"])
def test_scripts_refuse_cuda_without_gpu(script):
    import subprocess

    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / f"{script}.py"),
            "--device",
            "cuda",
            "--out",
            "/nonexistent/x",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=BENCH.parent,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "this torch build sees no CUDA device" in proc.stderr
