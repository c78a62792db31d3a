"""Inputs to calls: folders, globs, manifests (CSV/JSONL) and transcript files (JSON/JSONL).

Everything is streamed: a manifest of 100,000 rows is read row by row, never whole. A
malformed input becomes a failed ``CallAnalysis`` naming the file and the reason, so the
batch goes on and the failure is recorded in the store like any other call.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from wocas.errors import InputError
from wocas.io.audio import AUDIO_SUFFIXES
from wocas.schema import Call, CallAnalysis, Turn

TRANSCRIPT_SUFFIXES = frozenset({".json", ".jsonl"})
MANIFEST_COLUMNS = ("path", "call_id", "customer_id", "agent_id", "started_at", "channels")
ROLE_NAMES = {"agent": "agent", "customer": "customer"}


class TranscriptTurn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None

    @field_validator("speaker")
    @classmethod
    def _speaker_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("speaker is empty")
        return value.strip()


class TranscriptDoc(BaseModel):
    """The accepted transcript shape; unknown top-level keys are kept as metadata."""

    model_config = ConfigDict(extra="allow")
    call_id: str
    customer_id: str | None = None
    agent_id: str | None = None
    started_at: str | None = None
    turns: list[TranscriptTurn]

    @field_validator("turns")
    @classmethod
    def _has_turns(cls, value: list[TranscriptTurn]) -> list[TranscriptTurn]:
        if not value:
            raise ValueError("transcript has no turns")
        return value


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _parse_channels(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip().lower() for v in value)
    return tuple(part.strip().lower() for part in str(value).split(",") if part.strip())


def _failed(call_id: str, source: str, kind: str, reason: str) -> CallAnalysis:
    call = Call(call_id=call_id, source=source, kind=kind)  # type: ignore[arg-type]
    return CallAnalysis(call=call).failed("ingest", reason)


def transcript_to_call(obj: Any, source: str, fallback_id: str) -> CallAnalysis:
    """Validate one transcript object and turn it into a call with its turns filled in."""
    if not isinstance(obj, dict):
        return _failed(fallback_id, source, "transcript",
                       f"{source}: malformed transcript: expected a JSON object, got {type(obj).__name__}")
    try:
        doc = TranscriptDoc.model_validate(obj)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        call_id = str(obj.get("call_id") or fallback_id)
        return _failed(call_id, source, "transcript", f"{source}: malformed transcript: {problems}")
    turns, clock = [], 0.0
    for i, t in enumerate(doc.turns):
        # Without times, chat turns get a nominal clock (one turn per 5 s) so ordering holds.
        start = t.start if t.start is not None else clock
        end = t.end if t.end is not None else max(start + 5.0, start)
        if end < start:
            return _failed(doc.call_id, source, "transcript",
                           f"{source}: malformed transcript: turn {i} ends ({end}) before it starts ({start})")
        clock = end
        role = ROLE_NAMES.get(t.speaker.lower(), "unknown")
        turns.append(Turn(index=i, speaker=t.speaker, role=role, start=start, end=end, text=t.text.strip()))
    canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()
    call = Call(
        call_id=doc.call_id, source=source, kind="transcript",
        content_hash=hashlib.sha256(canonical).hexdigest()[:16],
        customer_id=doc.customer_id, agent_id=doc.agent_id, started_at=doc.started_at,
        metadata=dict(doc.model_extra or {}),
    )
    roles = {t.speaker: t.role for t in turns}
    known = all(r != "unknown" for r in roles.values())
    return CallAnalysis(call=call, turns=tuple(turns), duration=turns[-1].end,
                        roles=roles, role_confidence=1.0 if known else 0.0)


def read_transcripts(path: Path) -> Iterator[CallAnalysis]:
    source = str(path)
    if path.suffix.lower() == ".jsonl":
        with path.open(encoding="utf-8", errors="replace") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{source}:{line_no}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    yield _failed(f"{path.stem}-{line_no}", where, "transcript",
                                  f"{where}: malformed transcript: invalid JSON ({e.msg})")
                    continue
                yield transcript_to_call(obj, where, f"{path.stem}-{line_no}")
        return
    try:
        obj = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as e:
        yield _failed(path.stem, source, "transcript", f"{source}: malformed transcript: invalid JSON ({e.msg})")
        return
    for i, item in enumerate(obj if isinstance(obj, list) else [obj]):
        yield transcript_to_call(item, source, path.stem if i == 0 else f"{path.stem}-{i}")


def audio_call(path: Path, row: dict[str, Any] | None = None) -> CallAnalysis:
    row = dict(row or {})
    call_id = str(row.pop("call_id", None) or path.stem)
    if not path.exists():
        return _failed(call_id, str(path), "audio", f"{path}: file does not exist")
    known = {k: row.pop(k, None) for k in MANIFEST_COLUMNS if k != "path"}
    row.pop("path", None)
    call = Call(
        call_id=call_id, source=str(path), kind="audio", content_hash=file_hash(path),
        customer_id=(str(known["customer_id"]) if known["customer_id"] not in (None, "") else None),
        agent_id=(str(known["agent_id"]) if known["agent_id"] not in (None, "") else None),
        started_at=(str(known["started_at"]) if known["started_at"] not in (None, "") else None),
        channels=_parse_channels(known["channels"]),
        metadata={k: v for k, v in row.items() if v not in (None, "")},
    )
    return CallAnalysis(call=call)


def _manifest_rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            yield from csv.DictReader(f)
    else:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def _is_manifest(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return True
    if suffix == ".jsonl":
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    try:
                        first = json.loads(line)
                    except json.JSONDecodeError:
                        return False
                    return isinstance(first, dict) and "path" in first and "turns" not in first
    return False


def read_manifest(path: Path) -> Iterator[CallAnalysis]:
    base = path.parent
    for line_no, row in enumerate(_manifest_rows(path), 2 if path.suffix == ".csv" else 1):
        if not row.get("path"):
            yield _failed(str(row.get("call_id") or f"{path.stem}-{line_no}"), f"{path}:{line_no}", "audio",
                          f"{path}:{line_no}: manifest row has no 'path'")
            continue
        item = Path(row["path"]).expanduser()
        item = item if item.is_absolute() else base / item
        if item.suffix.lower() in TRANSCRIPT_SUFFIXES:
            yield from read_transcripts(item)
        else:
            yield audio_call(item, row)


def _expand(spec: str) -> Iterator[Path]:
    """Files named by one input, as absolute paths (the store and the review app outlive the cwd)."""
    path = Path(spec).expanduser().absolute()
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in AUDIO_SUFFIXES | TRANSCRIPT_SUFFIXES:
                yield child
    elif any(ch in spec for ch in "*?["):
        for match in sorted(glob.glob(str(Path(spec).expanduser()), recursive=True)):
            if Path(match).is_file():
                yield Path(match).absolute()
    else:
        yield path


def iter_calls(inputs: list[str]) -> Iterator[CallAnalysis]:
    """Every call named by the inputs, in order, one at a time."""
    for spec in inputs:
        for path in _expand(spec):
            if not path.exists():
                yield _failed(path.stem, str(path), "audio", f"{path}: input does not exist")
            elif _is_manifest(path):
                yield from read_manifest(path)
            elif path.suffix.lower() in TRANSCRIPT_SUFFIXES:
                yield from read_transcripts(path)
            else:
                yield audio_call(path)
