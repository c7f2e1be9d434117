"""Exceptions raised by pywlc."""


class BitstreamError(ValueError):
    """A bitstream is corrupt, truncated, of a foreign format or of an unsupported version."""


class AllocationError(MemoryError):
    """A tensor pywlc would allocate is larger than the device's memory (or the allocation failed): the message
    says which argument, its shape and dtype and how many bytes that asks for."""
