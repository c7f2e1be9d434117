"""WL-SVC's three-frame post-filter (pywlc.video.postfilter) and its trainer (pywlc.train video-postfilter)."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from pywlc.train import video_postfilter as VP
from pywlc.video.model import VIDEO_POSTFILTERS, load_video_postfilter
from pywlc.video.postfilter import TemporalPostFilter, neighbour_stack


def _frames(t: int = 5, h: int = 11, w: int = 14) -> torch.Tensor:
    return torch.arange(t * h * w, dtype=torch.float32).reshape(t, h, w) % 251


def test_neighbour_stack_clamps_at_the_segment_ends():
    f = _frames()
    s = neighbour_stack(f, torch.tensor([0, 2, 4]), distance=2)
    assert s.shape == (3, 3, 11, 14)
    assert torch.equal(s[0, 0], f[0]) and torch.equal(s[0, 2], f[2])  # t = 0: no previous frame -> itself
    assert torch.equal(s[1, 0], f[0]) and torch.equal(s[1, 1], f[2]) and torch.equal(s[1, 2], f[4])
    assert torch.equal(s[2, 2], f[4])


def test_untrained_filter_is_the_identity_and_chunks_do_not_matter():
    torch.manual_seed(0)
    m = TemporalPostFilter(8, 3).eval()
    f = _frames(t=11)  # > one chunk of 8, odd sizes
    assert torch.equal(m(f, 60), f)  # zero-initialised last layer: no residual
    torch.nn.init.normal_(m.net.net[-1].weight, std=0.05)
    out = m(f, 60)
    whole = m.correct(neighbour_stack(f, torch.arange(11)), torch.full((11,), 60))[:, 0].clamp(0, 255)
    torch.testing.assert_close(out, whole, atol=1e-4, rtol=0)
    assert not torch.equal(out, f)
    assert m(f[:0], 60).shape == (0, 11, 14)


def test_filter_input_errors():
    m = TemporalPostFilter(8, 3)
    with pytest.raises(ValueError, match="frames must be Tensor"):
        m(torch.zeros(2, 1, 8, 8), 40)


def test_state_round_trip():
    torch.manual_seed(1)
    m = TemporalPostFilter(8, 3)
    torch.nn.init.normal_(m.net.net[-1].weight, std=0.05)
    m2 = TemporalPostFilter.from_state(m.state())
    f = _frames()
    assert torch.equal(m.eval()(f, 50), m2(f, 50))


def test_codes_are_checked(tmp_path):
    for bad in ("", "a,b", "40,999"):
        cfg = VP.VideoPostfilterConfig(data=str(tmp_path), out=str(tmp_path), codes=bad)
        with pytest.raises(ValueError, match="codes"):
            VP._codes(cfg)


def _fake_items() -> list:
    g = torch.Generator().manual_seed(3)
    items = []
    for code in (50, 90):
        orig = (torch.rand(6, 40, 52, generator=g) * 255).to(torch.uint8)
        noise = torch.randint(-6, 7, orig.shape, generator=g)
        items.append((code, (orig.int() + noise).clamp(0, 255).to(torch.uint8), orig))
    return items


def test_trainer_steps_resume_and_export(tmp_path, monkeypatch):
    monkeypatch.setattr(VP, "build_decoded_cache", lambda cfg, cache: _fake_items())
    kw = dict(data=str(tmp_path), out=str(tmp_path / "run"), batch=2, patch=32, hidden=8, layers=3, init=None,
              log_every=1, save_every=2, seed=5, substreams=False)
    # Batches are a function of (seed, step): deterministic, right shapes, crops padded where a clip is smaller.
    s1, t1, c1 = VP._batch(_fake_items(), VP.VideoPostfilterConfig(**kw), 7)
    s2, t2, c2 = VP._batch(_fake_items(), VP.VideoPostfilterConfig(**kw), 7)
    assert torch.equal(s1, s2) and torch.equal(t1, t2) and torch.equal(c1, c2)
    assert s1.shape == (2, 3, 32, 32) and t1.shape == (2, 1, 32, 32)
    ckpt = VP.train_video_postfilter(VP.VideoPostfilterConfig(steps=2, **kw))
    VP.train_video_postfilter(VP.VideoPostfilterConfig(steps=4, resume=True, **kw))
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 4
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all(r["mse"] > 0 for r in rows)
    out = tmp_path / "w" / "pf.pt"
    digest = VP.export(ckpt, out)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    m = TemporalPostFilter.from_state(torch.load(out, weights_only=True))
    assert json.loads(out.with_suffix(".json").read_text())["step"] == 4
    assert m(_frames(), 60).shape == (5, 11, 14)


def test_trainer_starts_from_the_image_post_filter(tmp_path):
    cfg = VP.VideoPostfilterConfig(data=str(tmp_path), out=str(tmp_path))
    m = VP._new_model(cfg)
    from pywlc.codecs.wavelet.model import load_model

    ref = load_model(cfg.init).postfilter.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in m.net.state_dict().items())
    with pytest.raises(ValueError, match="no post-filter"):
        VP._new_model(VP.VideoPostfilterConfig(data="", out="", hidden=16))


@pytest.mark.skipif(not VIDEO_POSTFILTERS, reason="no WL-SVC post-filter ships")
def test_shipped_post_filter_loads():
    m = load_video_postfilter()
    assert isinstance(m, TemporalPostFilter)
    f = _frames()
    assert m(f, 60).shape == f.shape


def test_moving_object_clip_moves_a_patch_over_the_pan():
    g = torch.Generator().manual_seed(2)
    pan = torch.full((6, 30, 45), 7, dtype=torch.uint8)
    src = torch.full((3, 40, 50), 200, dtype=torch.uint8)
    out = VP._with_moving_object(pan, src, g)
    assert out.shape == pan.shape and out.dtype == torch.uint8
    covered = [(f == 200).nonzero() for f in out]
    assert all(len(c) > 0 for c in covered[2:4])  # the path crosses the middle of the clip
    centres = [c.float().mean(0) for c in covered if len(c)]
    assert (centres[0] - centres[-1]).abs().max() > 3  # it moves
    assert torch.equal(VP._with_moving_object(pan, src, torch.Generator().manual_seed(2)), out)


def test_batches_from_substream_triples_pair_each_decoded_frame_with_its_original():
    full = _fake_items()
    items = []
    for code, dec, orig in full:  # (full, 1/2, 1/4 frame rate) per stream, as build_decoded_cache writes them
        items += [(code, dec, orig), (code, dec[::2], orig[::2]), (code, dec[::4], orig[::4])]
    cfg = VP.VideoPostfilterConfig(data="", out="", batch=64, patch=16, seed=1)
    stacks, targets, codes = VP._batch(items, cfg, 0)
    assert stacks.shape == (64, 3, 16, 16) and targets.shape == (64, 1, 16, 16)
    # every crop's target is its own middle frame's original (the decoded frame is original + small noise)
    assert float((stacks[:, 1:2] - targets).abs().max()) <= 6
