"""Inputs to calls: folders, globs, manifests (CSV/JSONL) and transcript files (JSON/JSONL).

Everything is streamed: a manifest of 100,000 rows is read row by row, never whole. A
malformed input becomes a failed ``CallAnalysis`` naming the file (and line) and the reason, so
the batch goes on and the failure is recorded in the store like any other call. Nothing that an
input holds can raise out of ``iter_calls``: a problem found while reading a file, even one no
check foresaw, fails that file from that point and the next input is read.

Checks made here, before any stage runs:
- JSON is strict: no NaN or Infinity, numbers finite, nesting at most ``MAX_JSON_DEPTH`` deep;
- transcript turns have a speaker, a text and finite times that do not run backwards;
- manifests: a header row naming ``path`` (a UTF-8 BOM is accepted), rows as wide as the header,
  UTF-8 text (a line that is not is failed by number), JSONL rows that are objects;
- paths that are missing, broken links, directories or not regular files are failed by name;
- a channel map must name the agent or the customer, and no channel twice;
- a call id is claimed by its first input: a later input with the same id is failed as a
  duplicate (stored as ``<id>#duplicate-<n>``, so the first keeps its row) with both files named.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wocas.errors import InputError
from wocas.io.audio import AUDIO_SUFFIXES
from wocas.schema import Call, CallAnalysis, Timing, Turn

log = logging.getLogger(__name__)

TRANSCRIPT_SUFFIXES = frozenset({".json", ".jsonl"})
MANIFEST_COLUMNS = ("path", "call_id", "customer_id", "agent_id", "started_at", "channels")
ROLE_NAMES = {"agent": "agent", "customer": "customer"}
MAX_JSON_DEPTH = 64  # a transcript is about 4 levels deep; deeper is an attack or a bug upstream


class TranscriptTurn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    speaker: str
    text: str
    start: float | None = Field(default=None, allow_inf_nan=False)
    end: float | None = Field(default=None, allow_inf_nan=False)

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

    @field_validator("call_id")
    @classmethod
    def _call_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("call_id is empty")
        return value

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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large to be a finite number")
    return value


def _depth_over(obj: Any, limit: int) -> bool:
    """Whether ``obj`` nests containers more than ``limit`` deep (iterative: no recursion)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def loads_strict(text: str) -> Any:
    """Parse JSON that every later step can store: finite numbers only, bounded nesting.
    Raises ``InputError`` with the reason."""
    try:
        obj = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise InputError(f"invalid JSON (nested too deeply, the limit is {MAX_JSON_DEPTH} levels)") from None
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON ({e.msg})") from None
    except ValueError as e:  # NaN/Infinity, 1e999, an integer of thousands of digits
        raise InputError(f"invalid JSON ({e})") from None
    if _depth_over(obj, MAX_JSON_DEPTH):
        raise InputError(f"invalid JSON (nested too deeply, the limit is {MAX_JSON_DEPTH} levels)")
    return obj


def _parse_channels(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip().lower() for v in value)
    return tuple(part.strip().lower() for part in str(value).split(",") if part.strip())


def channel_map_problem(channels: tuple[str, ...]) -> str | None:
    """Why a channel map cannot be used, or None. Its length is checked against the recording
    when it is decoded; here, that it says whose voice is on which channel."""
    if not channels:
        return None
    repeated = [name for name, n in Counter(channels).items() if n > 1]
    if repeated:
        return f"the channel map ({','.join(channels)}) names {repeated[0]!r} on more than one channel"
    if not set(channels) & set(ROLE_NAMES):
        return (f"the channel map ({','.join(channels)}) names neither 'agent' nor 'customer'; "
                f"name each channel by role, e.g. agent,customer")
    return None


def path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as one input file, or None."""
    if path.is_symlink() and not path.exists():
        return f"broken symbolic link (it points at {os.readlink(path)}, which does not exist)"
    if not path.exists():
        return "file does not exist"
    if path.is_dir():
        return "is a directory, not a file"
    if not path.is_file():
        return "is not a regular file (a pipe, socket or device)"
    return None


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
        call_id = obj.get("call_id")
        call_id = call_id if isinstance(call_id, str) and call_id.strip() else fallback_id
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
    timed = all(t.start is not None and t.end is not None for t in doc.turns)
    call = Call(
        call_id=doc.call_id, source=source, kind="transcript",
        content_hash=hashlib.sha256(canonical).hexdigest()[:16],
        customer_id=doc.customer_id, agent_id=doc.agent_id, started_at=doc.started_at,
        metadata=dict(doc.model_extra or {}), timing=Timing.GIVEN if timed else Timing.ESTIMATED,
    )
    roles = {t.speaker: t.role for t in turns}
    known = all(r != "unknown" for r in roles.values())
    return CallAnalysis(call=call, turns=tuple(turns), duration=turns[-1].end,
                        roles=roles, role_confidence=1.0 if known else 0.0)


def read_transcripts(path: Path) -> Iterator[CallAnalysis]:
    source = str(path)
    if path.suffix.lower() == ".jsonl":
        with path.open(encoding="utf-8", errors="replace") as f:
            empty = True
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                empty = False
                where = f"{source}:{line_no}"
                try:
                    obj = loads_strict(line)
                except InputError as e:
                    yield _failed(f"{path.stem}-{line_no}", where, "transcript", f"{where}: malformed transcript: {e}")
                    continue
                yield transcript_to_call(obj, where, f"{path.stem}-{line_no}")
        if empty:
            log.warning("%s: the file is empty: no calls in it", path)
        return
    try:
        obj = loads_strict(path.read_text(encoding="utf-8", errors="replace"))
    except InputError as e:
        yield _failed(path.stem, source, "transcript", f"{source}: malformed transcript: {e}")
        return
    if obj == []:
        log.warning("%s: the file holds an empty list: no calls in it", path)
    for i, item in enumerate(obj if isinstance(obj, list) else [obj]):
        yield transcript_to_call(item, source, path.stem if i == 0 else f"{path.stem}-{i}")


def audio_call(path: Path, row: dict[str, Any] | None = None, source: str | None = None) -> CallAnalysis:
    """One recording, with what its manifest row says about it; ``source`` is where a failure
    is reported (the manifest line), by default the path."""
    row = dict(row or {})
    call_id = str(row.pop("call_id", None) or path.stem)
    problem = path_problem(path)
    if problem:
        where = f"{source} ({path})" if source else str(path)
        return _failed(call_id, source or str(path), "audio", f"{where}: {problem}")
    known = {k: row.pop(k, None) for k in MANIFEST_COLUMNS if k != "path"}
    row.pop("path", None)
    channels = _parse_channels(known["channels"])
    problem = channel_map_problem(channels)
    if problem:
        return _failed(call_id, str(path), "audio", f"{source or path}: {problem}")
    try:
        content_hash = file_hash(path)
    except OSError as e:
        return _failed(call_id, str(path), "audio", f"{source or path}: could not be read ({e.strerror or e})")
    call = Call(
        call_id=call_id, source=str(path), kind="audio", content_hash=content_hash,
        customer_id=(str(known["customer_id"]) if known["customer_id"] not in (None, "") else None),
        agent_id=(str(known["agent_id"]) if known["agent_id"] not in (None, "") else None),
        started_at=(str(known["started_at"]) if known["started_at"] not in (None, "") else None),
        channels=channels,
        metadata={k: v for k, v in row.items() if v not in (None, "")},
    )
    return CallAnalysis(call=call)


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row by its line number: the row, or why it cannot be read."""

    line: int
    row: dict[str, Any] | None = None
    problem: str | None = None


def _utf8(raw: bytes, line: int) -> tuple[str, str | None]:
    """(text, problem): a line decoded as UTF-8 (a BOM on line 1 dropped), or as far as it goes."""
    if line == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return raw.decode("utf-8", errors="replace"), (
            f"line {line} is not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
            f"save the manifest as UTF-8 (Excel: 'CSV UTF-8')")


def _csv_rows(path: Path) -> Iterator[ManifestRow]:
    bad: dict[int, str] = {}  # line -> why it is not UTF-8

    def lines() -> Iterator[str]:
        with path.open("rb") as f:
            for no, raw in enumerate(f, 1):
                text, problem = _utf8(raw, no)
                if problem:
                    bad[no] = problem
                yield text

    reader = csv.reader(lines())
    try:
        header = next(reader)
    except StopIteration:
        yield ManifestRow(1, problem="the manifest is empty: no header row and no calls")
        return
    except csv.Error as e:
        yield ManifestRow(1, problem=f"line 1 is not a CSV header ({e})")
        return
    names = [h.strip() for h in header]
    if "path" not in names:
        first = ",".join(header)
        yield ManifestRow(1, problem=(
            f"the manifest has no header row naming a 'path' column (line 1 reads {first[:120]!r}); "
            f"its first line must name the columns, e.g. {','.join(MANIFEST_COLUMNS)}"))
        return
    if 1 in bad:
        yield ManifestRow(1, problem=bad[1])
        return
    last, rows = 1, 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            yield ManifestRow(reader.line_num, problem=f"line {reader.line_num} is not valid CSV ({e})")
            last = reader.line_num
            continue
        first_line, last = last + 1, reader.line_num
        rows += 1
        undecodable = [bad[n] for n in range(first_line, last + 1) if n in bad]
        if undecodable:
            yield ManifestRow(first_line, problem=undecodable[0])
        elif len(cells) != len(names):
            yield ManifestRow(first_line, problem=(
                f"line {first_line} has {len(cells)} fields but the header has {len(names)} "
                f"({','.join(names)}); quote values that hold commas"))
        else:
            yield ManifestRow(first_line, dict(zip(names, cells)))
    if rows == 0:
        log.warning("%s: the manifest has a header but no rows", path)


def _jsonl_rows(path: Path) -> Iterator[ManifestRow]:
    with path.open("rb") as f:
        for no, raw in enumerate(f, 1):
            text, problem = _utf8(raw, no)
            if problem:
                yield ManifestRow(no, problem=problem)
                continue
            if not text.strip():
                continue
            try:
                row = loads_strict(text)
            except InputError as e:
                yield ManifestRow(no, problem=f"line {no}: {e}")
                continue
            if not isinstance(row, dict):
                yield ManifestRow(no, problem=f"line {no}: expected a JSON object, got {type(row).__name__}")
                continue
            yield ManifestRow(no, row)


def _is_manifest(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return True
    if suffix == ".jsonl":
        with path.open("rb") as f:
            for no, raw in enumerate(f, 1):
                text, _ = _utf8(raw, no)
                if text.strip():
                    try:
                        first = loads_strict(text)
                    except InputError:
                        return False
                    return isinstance(first, dict) and "path" in first and "turns" not in first
    return False


def read_manifest(path: Path) -> Iterator[CallAnalysis]:
    base = path.parent
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    for item in rows:
        where = f"{path}:{item.line}"
        if item.row is None:
            yield _failed(f"{path.stem}-{item.line}", where, "audio", f"{where}: {item.problem}")
            continue
        row = item.row
        call_id = row.get("call_id")
        call_id = str(call_id) if call_id not in (None, "") else f"{path.stem}-{item.line}"
        raw = row.get("path")
        if not isinstance(raw, str) or not raw.strip():
            yield _failed(call_id, where, "audio", f"{where}: manifest row has no 'path'")
            continue
        target = Path(raw.strip()).expanduser()
        target = target if target.is_absolute() else base / target
        if target.suffix.lower() in TRANSCRIPT_SUFFIXES:
            problem = path_problem(target)
            if problem:
                yield _failed(call_id, where, "transcript", f"{where} ({target}): {problem}")
            else:
                yield from read_transcripts(target)
        else:
            yield audio_call(target, row, source=where)


def _expand(spec: str) -> Iterator[Path]:
    """Files named by one input, as absolute paths (the store and the review app outlive the cwd).
    In a folder or a glob, anything named like a call (``x.wav``, ``x.json``) is yielded even when
    it is not a readable file (a directory, a broken link), so it is failed by name, not skipped."""
    path = Path(spec).expanduser().absolute()
    known = AUDIO_SUFFIXES | TRANSCRIPT_SUFFIXES
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.suffix.lower() in known:
                yield child
    elif any(ch in spec for ch in "*?["):
        for match in sorted(glob.glob(str(Path(spec).expanduser()), recursive=True)):
            candidate = Path(match)
            if candidate.is_file() or candidate.suffix.lower() in known:
                yield candidate.absolute()
    else:
        yield path


def _calls_of(path: Path) -> Iterator[CallAnalysis]:
    """The calls in one file; a problem no check foresaw fails the file from that point on."""
    kind = "transcript" if path.suffix.lower() in TRANSCRIPT_SUFFIXES else "audio"
    try:
        problem = path_problem(path)
        if problem:
            yield _failed(path.stem, str(path), kind, f"{path}: {problem}")
        elif _is_manifest(path):
            yield from read_manifest(path)
        elif kind == "transcript":
            yield from read_transcripts(path)
        else:
            yield audio_call(path)
    except Exception as e:  # noqa: BLE001 - one unreadable file must not end the night
        log.exception("reading %s failed", path)
        yield _failed(f"{path.stem}#unreadable", str(path), kind,
                      f"{path}: could not be read ({type(e).__name__}: {e}); nothing after this point in it was run")


def _claim(call: CallAnalysis, first_source: dict[str, str], repeats: Counter) -> CallAnalysis:
    """The call, or, when an earlier input already gave its id, the call failed as a duplicate
    under the id ``<id>#duplicate-<n>`` (the store keeps one row per id, the first input's)."""
    call_id = call.call_id
    first = first_source.get(call_id)
    if first is None:
        first_source[call_id] = call.call.source
        return call
    repeats[call_id] += 1
    new_id = f"{call_id}#duplicate-{repeats[call_id] + 1}"
    first_source.setdefault(new_id, call.call.source)
    renamed = call.replace(call=call.call.replace(call_id=new_id))
    duplicate = (f"duplicate call_id {call_id!r}, first from {first}; "
                 f"each call needs its own id (stored as {new_id!r})")
    reason = f"{call.call.source}: {duplicate}" if call.ok else f"{call.error} (also a {duplicate})"
    return renamed.failed(call.failed_stage or "ingest", reason)


def iter_calls(inputs: list[str]) -> Iterator[CallAnalysis]:
    """Every call named by the inputs, in order, one at a time; never raises for what an input holds."""
    first_source: dict[str, str] = {}
    repeats: Counter = Counter()
    for spec in inputs:
        try:
            for path in _expand(spec):
                for call in _calls_of(path):
                    yield _claim(call, first_source, repeats)
        except OSError as e:  # a folder that cannot be walked
            yield _claim(_failed(Path(spec).name or "input", spec, "audio",
                                 f"{spec}: could not be read ({type(e).__name__}: {e})"), first_source, repeats)
