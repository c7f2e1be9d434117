"""``wlc interpolate`` (PNG folders and Y4M, frame counts, errors), the trainer's resume, the benchmark's smoke run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pywlc.cli import main
from pywlc.video import io as vio

ROOT = Path(__file__).resolve().parents[1]


def _frames(folder: Path, n: int, size=(40, 30), grey=False, seed=0) -> list[np.ndarray]:
    folder.mkdir()
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[1], size[0] + 4 * n, 1 if grey else 3), dtype=np.uint8)
    out = []
    for i in range(n):
        a = np.ascontiguousarray(base[:, 2 * i : 2 * i + size[0]])
        Image.fromarray(a[..., 0] if grey else a).save(folder / f"f{i:03d}.png")
        out.append(a)
    return out


def _read(folder: Path) -> list[np.ndarray]:
    return [np.array(Image.open(p)) for p in sorted(folder.glob("*.png"))]


@pytest.mark.parametrize("factor,grey", [(2, False), (4, True)])
def test_png_folder(tmp_path, factor, grey, capsys):
    src = _frames(tmp_path / "in", 3, grey=grey)
    assert main(["interpolate", str(tmp_path / "in"), str(tmp_path / "out"), "--factor", str(factor)]) == 0
    out = _read(tmp_path / "out")
    assert len(out) == factor * (3 - 1) + 1
    for i, a in enumerate(src):  # every input frame, unchanged, at its place
        np.testing.assert_array_equal(out[i * factor], a[..., 0] if grey else a)
    assert out[1].shape == (src[0].shape[:2] if grey else src[0].shape)
    assert "3 frames -> " in capsys.readouterr().out


def test_y4m_round_trip(tmp_path):
    rgb = torch.from_numpy(np.stack(_frames(tmp_path / "png", 3))).permute(0, 3, 1, 2).contiguous()
    video = vio.rgb_to_yuv(rgb, chroma="420", fps=10)
    vio.write_y4m(tmp_path / "in.y4m", video)
    assert main(["interpolate", str(tmp_path / "in.y4m"), str(tmp_path / "out.y4m"), "--quiet"]) == 0
    out = vio.read_video(tmp_path / "out.y4m")
    assert out.frames == 5 and out.chroma == "420" and out.fps == 20
    for i in range(3):
        for p, q in zip(out.slice(2 * i, 2 * i + 1).planes(), video.slice(i, i + 1).planes(), strict=True):
            assert torch.equal(p, q)


def test_errors_are_one_line(tmp_path, capsys):
    _frames(tmp_path / "one", 1)
    assert main(["interpolate", str(tmp_path / "one"), str(tmp_path / "o1")]) == 2
    assert "need at least 2" in capsys.readouterr().err
    assert main(["interpolate", str(tmp_path / "missing"), str(tmp_path / "o2")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "mixed").mkdir()
    Image.new("RGB", (20, 10)).save(tmp_path / "mixed" / "a.png")
    Image.new("RGB", (20, 12)).save(tmp_path / "mixed" / "b.png")
    assert main(["interpolate", str(tmp_path / "mixed"), str(tmp_path / "o3"), "--quiet"]) == 2
    assert "first frame" in capsys.readouterr().err
    _frames(tmp_path / "two", 2)
    assert main(["interpolate", str(tmp_path / "two"), str(tmp_path / "o4"), "--factor", "3"]) == 2
    assert "--factor must be 2 or 4" in capsys.readouterr().err
    assert main(["interpolate", str(tmp_path / "two"), str(tmp_path / "two")]) == 2  # would overwrite inputs
    assert "--overwrite" in capsys.readouterr().err


def _train(data: Path, out: Path, *extra: str) -> list[dict]:
    from pywlc.train.__main__ import main as train_main

    args = ["vfi", "--data", str(data), "--out", str(out), "--steps", "3", "--batch", "2", "--patch", "64",
            "--log-every", "1", "--dynamic-from", "0.5", "--cache", str(out.parent / "cache"), *extra]
    assert train_main(args) == 0
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_train_resume_is_deterministic(shared_data, tmp_path):
    straight = _train(shared_data, tmp_path / "a")
    _train(shared_data, tmp_path / "b", "--stop-at", "2")
    state = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    assert state["step"] == 2 and state["cpu_seconds"] > 0
    resumed = _train(shared_data, tmp_path / "b", "--resume")
    assert [r["step"] for r in resumed] == [1, 2, 3] and straight[-1]["dynamic"]  # the last step is dynamic
    assert [r["loss"] for r in resumed] == [r["loss"] for r in straight]  # same batches, same Gumbel noise


def test_bench_quick(shared_data, tmp_path):
    out = tmp_path / "vfi.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_vfi.py"), "--quick", "--data", str(shared_data),
           "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {r.get("sequence", r.get("case")): r for r in json.loads(out.read_text())["rows"]}
    assert rows["kivy_city"]["ours_dynamic_psnr"] > rows["kivy_city"]["average_psnr"]
    assert rows["kivy_city"]["interpolated"] == 2 and rows["cube"]["interpolated"] == 2
    assert rows["720p_kivy_city_dynamic"]["ms_per_frame"] > 0 and rows["720p_cube_dense"]["gmac_total"] > 0


def test_train_init_fine_tunes_and_export_counts_its_hours(shared_data, tmp_path):
    from pywlc.train.vfi import export
    from pywlc.vfi.weights import model_from_state

    _train(shared_data, tmp_path / "a")
    base = torch.load(tmp_path / "a" / "last.pt", weights_only=False)
    log = _train(shared_data, tmp_path / "b", "--init", str(tmp_path / "a" / "last.pt"), "--dis-preset", "medium",
                 "--steps", "1")
    tuned = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    assert len(log) == 1 and tuned["model_config"]["dis_preset"] == "medium"
    assert tuned["model_config"]["coarse"] == base["model_config"]["coarse"]
    # One step of fine-tuning moves the weights a little from where they started, not from a fresh init.
    w0, w1 = base["model"]["motion.head.weight"], tuned["model"]["motion.head.weight"]
    assert 0 < float((w1 - w0).abs().max()) < 0.5 * float(w0.abs().max())
    digest = export(tmp_path / "b" / "last.pt", tmp_path / "w.pt")
    record = json.loads((tmp_path / "w.json").read_text())
    assert record["sha256"] == digest and record["model_config"]["dis_preset"] == "medium"
    assert record["cpu_hours"] * 3600 >= base["cpu_seconds"] + tuned["cpu_seconds"] - 1
    assert record["train_config"]["init"] == "last.pt"
    assert model_from_state(torch.load(tmp_path / "w.pt", weights_only=False)).cfg.dis_preset == "medium"
    from pywlc.train.__main__ import main as train_main

    assert train_main(["vfi", "--data", str(shared_data), "--out", str(tmp_path / "c"), "--dis-preset", "slow",
                       "--steps", "1", "--cache", str(tmp_path / "cache")]) == 1


def test_export_shipped_weights_with_another_preset(tmp_path):
    from pywlc.train.vfi import export
    from pywlc.vfi.weights import load_model, model_from_state

    digest = export("vfi-v1", tmp_path / "w.pt", dis_preset="ultrafast")
    record = json.loads((tmp_path / "w.json").read_text())
    assert record["sha256"] == digest and record["exported_from"] == "vfi-v1" and "fast" in record["note"]
    m = model_from_state(torch.load(tmp_path / "w.pt", weights_only=False))
    v1 = load_model("vfi-v1")
    assert m.cfg.dis_preset == "ultrafast" and v1.cfg.dis_preset == "fast"
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), v1.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="dis_preset must be one of"):
        export("vfi-v1", tmp_path / "x.pt", dis_preset="slow")
