"""``python -m pywlc.train image``: a 3-step CPU run on tiny crops, checkpoint, resume, losses finite."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pywlc.train import prepare_data
from pywlc.train.__main__ import main
from pywlc.zoo import load_checkpoint, read_checkpoint

TINY = json.dumps(dict(N=16, M=24, Z=16, slices=3, depth=1, slice_hidden=[16, 16]))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(7):
        arr = rng.integers(0, 256, (80 + 8 * i, 96, 3), dtype=np.uint8)
        Image.fromarray(arr).save(d / f"p{i}.jpg", quality=90)
    return d


def test_prepare_data_split_and_cache(photos, tmp_path):
    train, test = prepare_data(photos, tmp_path / "cache", holdout=5)
    assert len(train) == 2 and len(test) == 5
    assert [p.name.split("-")[0] for p in test] == ["p2", "p3", "p4", "p5", "p6"]
    with Image.open(train[0]) as im:
        assert im.size == (48, 40)
    mtimes = [p.stat().st_mtime_ns for p in train + test]
    again = prepare_data(photos, tmp_path / "cache", holdout=5)
    assert [p.stat().st_mtime_ns for p in again[0] + again[1]] == mtimes  # cached, not redone
    with pytest.raises(ValueError, match="held out"):
        prepare_data(photos, tmp_path / "cache", holdout=7)


def _log(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_train_resume_and_load(photos, tmp_path):
    out = tmp_path / "ckpt"
    base = ["image", "--data", str(photos), "--out", str(out), "--model", "weconvene", "--config", TINY]
    base += ["--lmbda", "0.0067", "--batch", "2", "--patch", "32", "--log-every", "1", "--device", "cpu"]
    assert main([*base, "--steps", "3"]) == 0
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["step"] == 3 and ckpt["quality"] == 3 and ckpt["arch"] == "weconvene"
    log = _log(out)
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all(np.isfinite([r["loss"], r["bpp"], r["mse"], r["aux"]]).all() for r in steps)
    assert log[-1]["final"] and np.isfinite(log[-1]["test"]["loss"])

    assert main([*base, "--steps", "5", "--resume"]) == 0
    log = _log(out)
    resume = [r for r in log if r.get("event") == "resume"]
    assert resume and resume[0]["step"] == 3
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5]
    assert read_checkpoint(out / "last.pt")["step"] == 5

    model = load_checkpoint(out / "last.pt")
    assert type(model).__name__ == "WeConvene" and model.quality == 3 and not model.training
    x = torch.rand(1, 3, 40, 48)
    enc = model.compress(x)
    assert model.decompress(enc["strings"], enc["shape"])["x_hat"].shape == x.shape


def test_resume_is_exact(photos, tmp_path):
    # 2 steps + resume for 2 more == 4 steps in one go (model, optimisers and crop RNG all restored).
    args = ["image", "--data", str(photos), "--model", "baseline", "--config", TINY, "--batch", "2"]
    args += ["--patch", "32", "--device", "cpu", "--cache", str(tmp_path / "cache"), "--lr-drop", "1.0"]
    assert main([*args, "--out", str(tmp_path / "a"), "--steps", "4"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--steps", "2"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--steps", "4", "--resume"]) == 0
    sa = read_checkpoint(tmp_path / "a" / "last.pt")["state_dict"]
    sb = read_checkpoint(tmp_path / "b" / "last.pt")["state_dict"]
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0, msg=k)


def test_aux_and_rd_gradients_are_disjoint():
    # The single-backward design of the trainer relies on it (see pywlc.train.image's module doc).
    from pywlc.train import rd_loss
    from pywlc.zoo import build

    torch.manual_seed(0)
    m = build("weconvene", json.loads(TINY)).train()
    x = torch.rand(2, 3, 32, 32)
    rd_loss(m(x), x, 0.01)["loss"].backward()
    assert all(p.grad is None for n, p in m.named_parameters() if n.endswith(".quantiles"))
    m.zero_grad(set_to_none=True)
    m.aux_loss().backward()
    assert all(p.grad is None for n, p in m.named_parameters() if not n.endswith(".quantiles"))


def test_errors(photos, tmp_path, capsys):
    base = ["image", "--data", str(photos), "--out", str(tmp_path / "o"), "--config", TINY, "--device", "cpu"]
    assert main([*base, "--resume", "--steps", "1", "--patch", "32"]) == 1
    assert "no checkpoint to resume" in capsys.readouterr().err
    assert main([*base, "--patch", "64", "--steps", "1"]) == 1
    assert "at least 64x64" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base[:-4], "--config", "huge"])
