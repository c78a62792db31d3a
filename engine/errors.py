"""The one root of every error WOCAS raises on purpose, and the exit code each one means.

The CLI maps errors to exit codes at one place (``wocas.cli.main``): a ``WocasError`` prints
its message on one line and exits with its ``exit_code``; anything else is a bug and keeps its
traceback. Per-call problems (a corrupt file, a malformed transcript) are errors too, but they
never reach the CLI: the pipeline records them on the call and the batch goes on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CALLS_FAILED = 1  # the run finished, but some calls failed (each is stored with its reason)
    USAGE = 2  # bad arguments, config, model or input path: nothing was run
    STORE_LOCKED = 3  # the store is in use by another wocas process: nothing was run
    NO_INPUT = 4  # the inputs exist but hold no call
    INTERNAL = 5  # a bug outside any one call: the run row says 'crashed' with the counts so far
    DISK_FULL = 6  # a write failed for want of space (store, per-call files, exports): the path is named
    INTERRUPTED = 130  # Ctrl-C or SIGTERM: finished calls are stored


class WocasError(Exception):
    """Base of every deliberate error. ``exit_code`` is what the CLI exits with."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(WocasError):
    """Bad arguments, a missing input path, a store that does not exist."""


class ConfigError(WocasError, ValueError):
    """A config file or value that does not validate, with the key, the file and a suggestion."""


class ModelError(WocasError, LookupError):
    """A model name or path that does not resolve, or a packaged model that is missing or damaged."""


class InputError(WocasError, ValueError):
    """One input (audio, manifest row, transcript) that cannot be analysed; recorded per call."""

    exit_code = ExitCode.CALLS_FAILED


class StoreError(WocasError):
    """The store cannot be opened or written."""


class StoreMissing(UsageError, FileNotFoundError):
    """A command that reads the store was pointed at a store that does not exist."""


class StoreLocked(StoreError):
    """Another wocas process holds the store."""

    exit_code = ExitCode.STORE_LOCKED


class NoInput(WocasError):
    """The inputs exist but hold no call (the day's recordings never arrived)."""

    exit_code = ExitCode.NO_INPUT


class DiskFull(WocasError, OSError):
    """A write failed because the disk (or quota) is full; the message names the path."""

    exit_code = ExitCode.DISK_FULL


def disk_full(error: OSError, path: object = None) -> DiskFull | None:
    """A ``DiskFull`` naming the path for an ``OSError`` that is ENOSPC or EDQUOT, else None."""
    import errno

    if error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    where = error.filename or path or "?"
    return DiskFull(f"disk full writing {where}: {error.strerror or error}")


class InternalError(WocasError, RuntimeError):
    """A bug outside any one call; the traceback is in the run's log, the run row says 'crashed'."""

    exit_code = ExitCode.INTERNAL


def store_disk_full(error: Exception, path: object) -> DiskFull | None:
    """The store's engine reports a full disk as its own error type: a ``DiskFull`` for it, else None."""
    if isinstance(error, OSError):
        return disk_full(error, path)
    text = str(error)
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return DiskFull(f"disk full writing {path}: {text.splitlines()[0] if text else type(error).__name__}")
    return None
