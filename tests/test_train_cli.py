"""The trainers' command lines are generated from their config dataclasses (``pywlc.train.loop.add_config_arguments``):
every field with a default gets an option whose default is the field's, and parsed arguments build the config."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

import pytest

from pywlc.train.__main__ import main
from pywlc.train.loop import add_config_arguments, config_from_args
from pywlc.train.vfi import VFITrainConfig
from pywlc.train.video import VideoTrainConfig
from pywlc.train.video_postfilter import VideoPostfilterConfig
from pywlc.train.wavelet import WaveletTrainConfig
from pywlc.train.wavelet_layers import LayersTrainConfig


@dataclass
class _Cfg:
    data: str
    out: str
    steps: int = 10
    lr: float = 1e-3
    wide: bool = False
    objects: bool = True
    init: str | None = None
    resume: bool = False


def _parser(cls: type, skip: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    add_config_arguments(p, cls, skip)
    return p


def test_defaults_types_and_flags():
    p = _parser(_Cfg)
    cfg = config_from_args(_Cfg, p.parse_args(["--data", "d", "--out", "o"]))
    assert cfg == _Cfg("d", "o")
    cfg = config_from_args(_Cfg, p.parse_args(["--data", "d", "--out", "o", "--steps", "3", "--lr", "0.5", "--wide",
                                               "--no-objects", "--init", "w", "--resume"]))  # fmt: skip
    assert cfg == _Cfg("d", "o", 3, 0.5, True, False, "w", True)
    assert isinstance(cfg.steps, int) and isinstance(cfg.lr, float)
    assert config_from_args(_Cfg, p.parse_args(["--data", "d", "--out", "o"]), steps=7).steps == 7
    with pytest.raises(argparse.ArgumentError):
        p.parse_args(["--data", "d", "--out", "o", "--steps", "x"])


def test_skip_leaves_the_field_to_the_caller():
    p = _parser(_Cfg, skip=("init",))
    with pytest.raises(SystemExit):  # unknown option (argparse exits for those even with exit_on_error=False)
        p.parse_args(["--data", "d", "--out", "o", "--init", "w"])


@pytest.mark.parametrize("cls", [WaveletTrainConfig, LayersTrainConfig, VFITrainConfig, VideoTrainConfig,
                                 VideoPostfilterConfig])  # fmt: skip
def test_every_trainer_config_round_trips_its_defaults(cls):
    cfg = config_from_args(cls, _parser(cls).parse_args(["--data", "d", "--out", "o"]))
    for f in fields(cls):
        if f.name not in ("data", "out"):
            assert getattr(cfg, f.name) == f.default, f.name


@pytest.mark.parametrize("task", ["wavelet", "wavelet-layers", "vfi", "video", "video-postfilter"])
def test_train_help_lists_every_config_field(task, capsys):
    cls = {"wavelet": WaveletTrainConfig, "wavelet-layers": LayersTrainConfig, "vfi": VFITrainConfig,
           "video": VideoTrainConfig, "video-postfilter": VideoPostfilterConfig}[task]  # fmt: skip
    with pytest.raises(SystemExit) as e:
        main([task, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for f in fields(cls):
        assert "--" + f.name.replace("_", "-") in text, f.name
