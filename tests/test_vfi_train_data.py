"""The frame interpolator's training data options (static background, sensor noise, 8-bit rounding, held-out
sequence tails) and the ``vfi-val`` validation on those tails."""

from __future__ import annotations

import json

import torch

from pywlc.train.vfi import VFITrainConfig, _synthetic_triplet, _video_triplet


def _photos(n=3, size=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, size, size + 20), generator=g, dtype=torch.uint8) for _ in range(n)]


def _cfg(**kw) -> VFITrainConfig:
    return VFITrainConfig(data="", out="", batch=4, patch=64, **kw)


def test_options_off_keep_the_v1_random_stream():
    # Off, the new options draw nothing: a recipe without them samples exactly the batches it always did.
    photos = _photos()
    cfg = _cfg(synthetic_p=1.0)
    a = _synthetic_triplet(photos, torch.Generator().manual_seed(5), 64, cfg)
    b = _synthetic_triplet(photos, torch.Generator().manual_seed(5), 64, None)
    assert all(torch.equal(x, y) for x, y in zip(a[:3], b[:3], strict=True)) and a[3] == b[3]



def test_static_background_moves_only_the_foreground():
    photos = _photos()
    for seed in range(6):
        i0, i1, mid, _ = _synthetic_triplet(photos, torch.Generator().manual_seed(seed), 64, _cfg(static_p=1.0))
        same = (i0 == i1).all(0)
        # the foreground disc covers at most pi * 0.35^2 of the patch in each frame; the rest holds still
        assert float(same.float().mean()) > 0.45
        moving = _synthetic_triplet(photos, torch.Generator().manual_seed(seed), 64, _cfg())
        assert float((moving[0] == moving[1]).all(0).float().mean()) < float(same.float().mean())


def test_noise_and_rounding():
    photos = _photos()
    cfg = _cfg(static_p=1.0, noise_max=4.0, quantize=True)
    i0, i1, mid, _ = _synthetic_triplet(photos, torch.Generator().manual_seed(2), 64, cfg)
    for f in (i0, i1, mid):
        assert torch.equal(f * 255, (f * 255).round()) and float(f.min()) >= 0 and float(f.max()) <= 1
    # independent noise per frame: a static background no longer matches exactly everywhere
    assert float((i0 == i1).all(0).float().mean()) < 0.9
    clean = _synthetic_triplet(photos, torch.Generator().manual_seed(2), 64, _cfg(static_p=1.0, quantize=True))
    assert float((i0 - clean[0]).abs().mean()) * 255 < 4.0


def test_holdout_never_draws_the_tail():
    seq = torch.arange(20, dtype=torch.uint8)[:, None, None, None].expand(20, 3, 40, 40).contiguous()
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(300):
        a, b, m, _ = _video_triplet([seq], g, 16, holdout=7)
        seen |= {round(float(x[0, 0, 0]) * 255) for x in (a, b, m)}
    assert max(seen) == 12 and min(seen) == 0


def test_vfi_val_on_the_held_out_tails(shared_data, capsys):
    from pywlc.train.__main__ import main as train_main

    assert train_main(["vfi-val", "--data", str(shared_data), "--weights", "vfi-v1", "--holdout", "3"]) == 0
    res = json.loads(capsys.readouterr().out)
    for seq in ("mire2", "forensics_dog"):
        row = res["sequences"][seq]
        assert all(25 < row[k] < 60 for k in ("dis_blend", "dis_blend_cubic", "vfi-v1:dense", "vfi-v1:dynamic"))
        assert 0 <= row["vfi-v1:density"] <= 1
    assert res["holdout"] == 3 and set(res["mean"]) == set(res["sequences"]["mire2"])
    assert train_main(["vfi-val", "--data", str(shared_data), "--weights", "vfi-v1", "--holdout", "2"]) == 1
    assert "holdout must be >= 3" in capsys.readouterr().err
    assert train_main(["vfi-val", "--data", str(shared_data), "--weights", "vfi-v1", "--synthetic", "-1"]) == 1
    assert "synthetic must be >= 0" in capsys.readouterr().err


def test_vfi_val_synthetic_motion_on_held_out_photos(shared_data):
    from pywlc.train.vfi_val import _synthetic_triplets, validate

    a = _synthetic_triplets(shared_data, 4, 3, patch=96)
    b = _synthetic_triplets(shared_data, 4, 3, patch=96)
    assert len(a) == 3  # fixed seed: the same triplets every time
    assert all(torch.equal(x, y) for p, q in zip(a, b, strict=True) for x, y in zip(p[:3], q[:3], strict=True))
    assert all(f.dtype == torch.uint8 and f.shape == (3, 96, 96) for p in a for f in p[:3])
    assert all(p[3] in (0.25, 0.5, 0.75) for p in a) and any(not torch.equal(p[0], p[1]) for p in a)
    res = validate(shared_data, ["vfi-v1"], holdout=3, synthetic=2)["synthetic"]
    assert res["triplets"] == 2 and 15 < res["dis_blend"] < 60 and 15 < res["vfi-v1:dense"] < 60


def test_holdout_photos_never_reach_the_trainer(shared_data, tmp_path, monkeypatch):
    import pywlc.train.vfi as tv
    from pywlc.train.splits import photo_split

    seen = []

    def fake_load(paths, scale, cache):
        seen.extend(paths)
        raise KeyboardInterrupt  # stop the run here: only the photo list is under test

    monkeypatch.setattr(tv, "load_photos", fake_load)
    cfg = tv.VFITrainConfig(data=str(shared_data), out=str(tmp_path / "r"), holdout_photos=4)
    try:
        tv.train_vfi(cfg)
    except KeyboardInterrupt:
        pass
    train = photo_split(shared_data)[0]
    assert seen == train[:-4] and len(train) - len(seen) == 4


def test_photo_cache_written_by_two_loaders_at_once(tmp_path):
    # Two trainings started together on one cache: each writes its own temporary file, neither fails.
    import threading

    import numpy as np
    from PIL import Image

    from pywlc.train.splits import load_photos

    paths = []
    for k in range(3):
        paths.append(tmp_path / f"p{k}.png")
        Image.fromarray(np.full((40, 60, 3), 40 * k, np.uint8)).save(paths[-1])
    errors, results = [], []

    def run():
        try:
            results.append(load_photos(paths, 2, tmp_path / "cache"))
        except Exception as e:  # noqa: BLE001 -- the test reports any failure of either loader
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 8
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [next((tmp_path / "cache").glob("photos-*.pt")).name]
    assert all(torch.equal(x, y) for x, y in zip(results[0], load_photos(paths, 2, tmp_path / "cache"), strict=True))


def test_fine_tune_keeps_the_init_warp_mode(tmp_path):
    from pywlc.train.vfi import _new_model

    def cfg(**kw):
        return VFITrainConfig(data="", out=str(tmp_path), **kw)

    assert _new_model(cfg()).cfg.warp_mode == "bilinear"
    assert _new_model(cfg(init="vfi-v3")).cfg.warp_mode == "bicubic"
    assert _new_model(cfg(init="vfi-v3", warp_mode="bilinear")).cfg.warp_mode == "bilinear"
    assert _new_model(cfg(init="vfi-v1", warp_mode="bicubic")).cfg.warp_mode == "bicubic"
