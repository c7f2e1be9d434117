"""A wavelet model with its own lossless entropy model (``WaveletModel.entropy_lossless``): lossless streams code
with it, lossy streams with ``entropy``; the weights file, the model id and the export's CPU-time record."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
import torch

from pywlc.bitstream import decode_container
from pywlc.codecs import wavelet as W
from pywlc.codecs.wavelet.entropy_model import SubbandEntropyModel
from pywlc.codecs.wavelet.model import WaveletModel
from pywlc.errors import BitstreamError
from pywlc.train.wavelet import export_weights


def _net(seed: int, approx: bool = True) -> SubbandEntropyModel:
    g = torch.Generator().manual_seed(seed)
    net = SubbandEntropyModel(8, mean_hidden=8, approx=approx)
    for p in net.parameters():
        p.data.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return net


def _payloads(data: bytes) -> list[bytes]:
    return [layer.payload for layer in decode_container(data).layers]


@pytest.fixture(scope="module")
def picture() -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    base = torch.rand(3, 1, 1, generator=g) * 200
    ramp = torch.linspace(0, 40, 45).view(1, 1, 45) + torch.linspace(0, 30, 37).view(1, 37, 1)
    return (base + ramp + torch.randint(0, 12, (3, 37, 45), generator=g)).clamp(0, 255).to(torch.uint8)


def test_lossless_streams_code_with_the_lossless_model(picture):
    lossy_net, lossless_net = _net(1), _net(2)
    both = WaveletModel(lossy_net, None, "both", None, lossless_net)
    alone_lossy = WaveletModel(lossy_net, None, "lossy")
    alone_lossless = WaveletModel(lossless_net, None, "lossless")
    assert both.entropy_for(True) is lossless_net and both.entropy_for(False) is lossy_net
    assert alone_lossy.entropy_for(True) is lossy_net
    lossless = W.encode(picture, lossless=True, model=both)
    assert torch.equal(W.decode(lossless, model=both), picture)
    assert _payloads(lossless) == _payloads(W.encode(picture, lossless=True, model=alone_lossless))
    assert _payloads(lossless) != _payloads(W.encode(picture, lossless=True, model=alone_lossy))
    lossy = W.encode(picture, quality=50, model=both)
    assert _payloads(lossy) == _payloads(W.encode(picture, quality=50, model=alone_lossy))
    assert W.decode(lossy, model=both).shape == picture.shape
    # The id covers the lossless model: a decoder without it refuses the stream instead of decoding garbage.
    assert len({both.model_id, alone_lossy.model_id, alone_lossless.model_id}) == 3
    with pytest.raises(BitstreamError, match="other entropy-model weights"):
        W.decode(lossless, model=alone_lossy)


def test_state_round_trip_keeps_the_lossless_model():
    both = WaveletModel(_net(1), None, "both", None, _net(2, approx=False))
    back = WaveletModel.from_state(both.state(), "back")
    assert back.model_id == both.model_id and not back.entropy_lossless.approx and back.entropy.approx
    for k, v in both.entropy_lossless.state_dict().items():
        assert torch.equal(back.entropy_lossless.state_dict()[k], v)
    one = WaveletModel.from_state(WaveletModel(_net(1), None).state())
    assert one.entropy_lossless is None and one.model_id == WaveletModel(_net(1), None).model_id


def _ckpt(path, net: SubbandEntropyModel, cpu: float, init: str | None) -> str:
    config = {"stage": "entropy", "hidden": net.hidden, "mean_hidden": net.mean_hidden, "approx": net.approx,
              "init": init}
    torch.save({"config": config, "model": net.state_dict(), "step": 1, "cpu_seconds": cpu}, path)
    return str(path)


def test_export_counts_a_shared_ancestor_once(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "ly").mkdir()
    (tmp_path / "ll").mkdir()
    base = _ckpt(tmp_path / "base" / "last.pt", _net(0), 1000.0, None)
    lossy = _ckpt(tmp_path / "ly" / "last.pt", _net(1), 100.0, base)
    lossless = _ckpt(tmp_path / "ll" / "last.pt", _net(2), 10.0, base)
    out = tmp_path / "w.pt"
    export_weights(lossy, None, out, entropy_lossless_ckpt=lossless)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["entropy"]["init_cpu_seconds"] == record["entropy_lossless"]["init_cpu_seconds"] == 1000.0
    assert record["cpu_hours"] == round(1110.0 / 3600, 3)
    assert record["entropy_lossless"]["config"]["init"] == "base/last.pt"
    m = WaveletModel.from_state(torch.load(out, weights_only=False))
    assert m.entropy_lossless is not None
    assert torch.equal(m.entropy_lossless.state_dict()["luma.0.0.weight"], _net(2).state_dict()["luma.0.0.weight"])
    torch.save({"config": {"stage": "lifting"}, "model": {}, "step": 1, "cpu_seconds": 1.0}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a checkpoint of the entropy stage"):
        export_weights(lossy, None, out, entropy_lossless_ckpt=tmp_path / "x.pt")
    cli = subprocess.run([sys.executable, "-m", "pywlc.train", "wavelet-export", "--entropy", lossy,
                          "--entropy-lossless", lossless, "--out", str(tmp_path / "c.pt")],
                         capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == hashlib.sha256((tmp_path / "c.pt").read_bytes()).hexdigest()
