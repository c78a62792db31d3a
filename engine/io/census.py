"""A cheap count of what the inputs hold, for the progress bar's total: calls and audio hours.

Reads headers only (the WAV header, ``soundfile.info`` or the container's duration), never
decodes or hashes a recording. It is an estimate for display: a file that turns out unreadable
still counts as one call (the run fails it by name), and its hours count as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wocas.io.audio import AUDIO_SUFFIXES, declared_duration
from wocas.io.ingest import TRANSCRIPT_SUFFIXES, _csv_rows, _expand, _is_manifest, _jsonl_rows


@dataclass(frozen=True)
class Census:
    calls: int
    audio_seconds: float


def _transcript_count(path: Path) -> int:
    if path.suffix.lower() == ".jsonl":
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    with path.open("rb") as f:
        head = f.read(64).lstrip()
    if head.startswith(b"["):
        import json

        try:
            items = json.loads(path.read_text(encoding="utf-8", errors="replace"))
            return len(items) if isinstance(items, list) else 1
        except ValueError:
            return 1
    return 1


def _seconds(path: Path) -> float:
    return (declared_duration(path) or 0.0) if path.suffix.lower() in AUDIO_SUFFIXES else 0.0


def census(inputs: list[str]) -> Census:
    """Calls and declared audio seconds named by the inputs (folders, globs, manifests, files)."""
    calls, seconds = 0, 0.0
    for spec in inputs:
        try:
            paths = list(_expand(spec))
        except OSError:
            calls += 1
            continue
        for path in paths:
            try:
                if not path.is_file():
                    calls += 1
                elif _is_manifest(path):
                    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
                    for item in rows:
                        calls += 1
                        raw = (item.row or {}).get("path")
                        if isinstance(raw, str) and raw.strip():
                            target = Path(raw.strip()).expanduser()
                            seconds += _seconds(target if target.is_absolute() else path.parent / target)
                elif path.suffix.lower() in TRANSCRIPT_SUFFIXES:
                    calls += _transcript_count(path)
                else:
                    calls += 1
                    seconds += _seconds(path)
            except OSError:
                calls += 1
    return Census(calls, seconds)
