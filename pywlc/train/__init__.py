"""Training of pywlc's learned codecs: ``python -m pywlc.train image --data DIR ...`` (see :mod:`.image`)."""

from .image import TrainConfig, prepare_data, rd_loss, train

__all__ = ["TrainConfig", "prepare_data", "rd_loss", "train"]
