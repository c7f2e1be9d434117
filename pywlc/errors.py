"""Exceptions raised by pywlc."""


class BitstreamError(ValueError):
    """A bitstream is corrupt, truncated, of a foreign format or of an unsupported version."""
