"""A long call's int16 PCM kept on disk and read back by positioned reads.

Above ``[run] spool_audio_minutes`` the decode stage writes the call's 16 kHz int16 samples
into a temporary file instead of memory, and every reader (``Audio.window``, an
``AudioView``, ``Audio.pcm[...]``) gets just the samples it asks for with ``os.preadv``. The
file is not memory-mapped: mapped pages a stage has touched count in the process's RSS, which
is what spooling is there to bound.

The file is unlinked as soon as it is created, so only its open descriptor keeps it: the disk
space comes back when the call is done (``close``), when the object is collected, or when the
process dies, even by SIGKILL; a crashed run leaves nothing behind in the work area.
Layout: frames in order, channels interleaved (as a WAV's data chunk), so a window of any
channel is one contiguous read.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np

SAMPLE = np.dtype(np.int16)
STRIDED_READ_FRAMES = 1 << 20  # frames read at a time for a strided (``[:, ::step]``) subsample


class PcmFile:
    """int16 PCM of shape (channels, samples) in an unlinked temporary file. Reads like the
    part of an array the stages use: ``shape``, ``dtype``, ``ndim``, slicing as
    ``[channel, a:b]``, ``[:, a:b]`` or ``[:, ::step]`` (each gives a new in-memory array),
    and ``np.asarray`` (the whole call: a full copy). Written once, by ``append``, then read."""

    ndim = 2
    dtype = SAMPLE

    def __init__(self, channels: int, folder: str | Path | None = None):
        folder = Path(folder) if folder else Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".wocas-pcm-", suffix=".s16", dir=folder)
        os.unlink(name)
        self.fd, self.channels, self.frames, self.folder = fd, channels, 0, folder
        self._close = weakref.finalize(self, os.close, fd)

    # ---- writing ----------------------------------------------------------------------------
    def append(self, block: np.ndarray) -> None:
        """``block``: int16 of shape (samples, channels)."""
        data = np.ascontiguousarray(block, dtype=SAMPLE)
        if data.ndim != 2 or data.shape[1] != self.channels:
            raise ValueError(f"expected (samples, {self.channels}) int16, got {data.shape}")
        view, offset = memoryview(data).cast("B"), self.frames * self.frame_bytes
        while view:
            n = os.pwrite(self.fd, view, offset)
            view, offset = view[n:], offset + n
        self.frames += len(data)

    # ---- reading ----------------------------------------------------------------------------
    @property
    def frame_bytes(self) -> int:
        return self.channels * SAMPLE.itemsize

    @property
    def shape(self) -> tuple[int, int]:
        return (self.channels, self.frames)

    @property
    def size(self) -> int:
        return self.channels * self.frames

    @property
    def nbytes(self) -> int:
        """Bytes on disk (none of them in memory)."""
        return self.size * SAMPLE.itemsize

    @property
    def closed(self) -> bool:
        return not self._close.alive

    def read(self, start: int = 0, end: int | None = None) -> np.ndarray:
        """Frames ``start``..``end`` of every channel, int16 of shape (channels, n)."""
        start = max(0, min(start, self.frames))
        end = self.frames if end is None else max(start, min(end, self.frames))
        if self.closed:
            raise ValueError("the call's spooled audio was already released")
        out = np.empty((end - start, self.channels), dtype=SAMPLE)
        view, offset = memoryview(out).cast("B"), start * self.frame_bytes
        while view:
            n = os.preadv(self.fd, [view], offset)
            if n == 0:
                raise OSError(f"spooled audio ended early at byte {offset}")
            view, offset = view[n:], offset + n
        return out.T

    def blocks(self, frames: int) -> Iterator[np.ndarray]:
        """Consecutive (channels, ``frames``) windows of the whole call."""
        for start in range(0, self.frames, frames):
            yield self.read(start, start + frames)

    def __len__(self) -> int:
        return self.channels

    def __getitem__(self, key) -> np.ndarray:
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if not isinstance(cols, slice):
            raise TypeError("spooled audio is read in slices of samples")
        start, stop, step = cols.indices(self.frames)
        if step == 1:
            part = self.read(start, max(start, stop))
        elif step > 1:  # a strided subsample, read a block at a time
            chunk = STRIDED_READ_FRAMES - STRIDED_READ_FRAMES % step or step
            # each block's every step-th frame copied out, so the block itself is freed at once
            part = np.concatenate([self.read(a, min(a + chunk, stop))[:, ::step].copy() for a in range(start, stop, chunk)]
                                  or [np.empty((self.channels, 0), SAMPLE)], axis=1)
        else:
            raise TypeError("spooled audio is read forwards")
        return part[rows]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.ascontiguousarray(self.read())
        return out if dtype is None else out.astype(dtype, copy=False)

    def __reduce__(self):
        # Another process cannot open an unlinked file: a pickled copy carries the samples.
        return np.ascontiguousarray, (np.asarray(self),)

    def close(self) -> None:
        """Give the disk space back (the file has no name, so this is its deletion)."""
        self._close()

    def __repr__(self) -> str:
        return f"PcmFile({self.channels} ch, {self.frames} frames, {'closed' if self.closed else 'open'})"
