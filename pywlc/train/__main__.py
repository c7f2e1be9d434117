"""``python -m pywlc.train image --data DIR --model weconvene --lmbda 0.0067 --steps N --out CKPT_DIR``.

Multi-GPU: ``torchrun --nproc_per_node=K -m pywlc.train image ...`` (DistributedDataParallel).
"""

from __future__ import annotations

import argparse
import json
import sys

from .._plugins import register_all
from .loop import add_config_arguments, config_from_args
from .wavelet import STAGES as WAVELET_STAGES
from .wavelet import WaveletTrainConfig, export_weights, train_wavelet


def _config(value: str) -> str | dict:
    from ..models import CONFIGS  # WeConvene's configurations: needs CompressAI (pywlc[weconvene])

    if value in CONFIGS:
        return value
    try:
        cfg = json.loads(value)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"not a config name ({sorted(CONFIGS)}) nor a JSON object: {value}") from None
    if not isinstance(cfg, dict):
        raise argparse.ArgumentTypeError("a JSON config must be an object of model arguments")
    return cfg


# Training tasks in their own modules: each has ``register(subparsers)`` and sets ``run=fn(args) -> int | None``
# on its parsers; one that is not in this tree is skipped.
_TASK_MODULES = ("pywlc.train.video", "pywlc.train.video_postfilter", "pywlc.train.vfi", "pywlc.train.vfi_val",
                 "pywlc.train.wavelet_layers")



def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pywlc.train", description="train pywlc's learned codecs")
    sub = p.add_subparsers(dest="task", required=True)
    t = sub.add_parser("image", help="train an image codec (RD loss on random crops)")
    t.add_argument(
        "--data", required=True, help="folder of photos (the alphabetically last --holdout are the test set)"
    )
    t.add_argument("--out", required=True, help="checkpoint folder (last.pt, log.jsonl, data-cache/)")
    t.add_argument("--model", choices=["weconvene", "baseline"], default="weconvene")
    t.add_argument("--config", type=_config, default="compact", help="'compact', 'paper' or a JSON object")
    t.add_argument("--lmbda", type=float, default=0.0067)
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch", type=int, default=8, help="global batch (split over torchrun ranks)")
    t.add_argument("--patch", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--aux-lr", type=float, default=1e-3)
    t.add_argument("--lr-drop", type=float, default=0.9, help="fraction of the steps after which lr is x0.1")
    t.add_argument("--holdout", type=int, default=5)
    t.add_argument("--cache", help="cache of downscaled photos (default: OUT/data-cache)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--amp", action="store_true", help="bfloat16 autocast for the transforms")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    t.add_argument("--device", help="default: cuda:LOCAL_RANK if available, else cpu")
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--save-every", type=int, default=1000)
    t.add_argument("--eval-every", type=int, default=0, help="test-set evaluation period (0: at the end only)")
    w = sub.add_parser("wavelet", help="train the wavelet image codec's entropy model, lifting step or post-filter")
    w.add_argument("--data", required=True, help="the shared data folder (holds SPLITS.md, photos/, photos_more/)")
    w.add_argument("--out", required=True, help="checkpoint folder (last.pt, log.jsonl)")
    w.add_argument("--stage", choices=list(WAVELET_STAGES), default="entropy")
    add_config_arguments(w, WaveletTrainConfig, skip=("stage", "cache", "lifting", "init", "wide"))
    w.add_argument("--cache", help="cache folder of the downscaled photos (default: OUT/cache)")
    w.add_argument("--lifting", help="entropy/postfilter: code with this lifting checkpoint or shipped weights name")
    w.add_argument("--init", help="start from this checkpoint of the stage or shipped weights name (fine-tuning)")
    w.add_argument("--wide", action="store_true",
                   help="entropy: add the residual 3x3 layer (5x5 context); --init from a narrow model starts it at 0")
    x = sub.add_parser("wavelet-export", help="write the shippable weights of trained wavelet stages; prints sha256")
    x.add_argument("--entropy", required=True, help="last.pt of the entropy stage")
    x.add_argument("--entropy-lossless",
                   help="last.pt of an entropy stage fine-tuned on lossless batches (codes the lossless streams)")
    x.add_argument("--postfilter", help="last.pt of the post-filter stage, or a shipped weights name to reuse its")
    x.add_argument("--lifting", help="last.pt of the lifting stage, or a shipped weights name to reuse its")
    x.add_argument("--out", required=True, help="weights file, e.g. pywlc/codecs/wavelet/weights/wavelet-v1.pt")
    register_all(_TASK_MODULES, sub)
    args = p.parse_args(argv)
    try:
        if getattr(args, "run", None) is not None:  # a task from one of _TASK_MODULES
            return int(args.run(args) or 0)
        if args.task == "wavelet-export":
            print(export_weights(args.entropy, args.postfilter, args.out, lifting_ckpt=args.lifting,
                                 entropy_lossless_ckpt=args.entropy_lossless))
            return 0
        if args.task == "wavelet":
            train_wavelet(config_from_args(WaveletTrainConfig, args))
            return 0
        from .image import TrainConfig, train

        cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k != "task"})
        train(cfg)
    except (OSError, ValueError, FloatingPointError) as e:
        print(f"pywlc.train: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
