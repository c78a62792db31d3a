"""Per-call files in the field's own formats: the JSON record, RTTM, SRT and WebVTT."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from wocas.schema import CallAnalysis, Timing

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
HASHED = re.compile(r"-[0-9a-f]{8}$")


def safe_name(call_id: str) -> str:
    """A file name for a call id that cannot escape the output folder, and that no other id
    gets: an id that is already a plain file name is kept as it is; any other (``x/y``, ``.x``,
    or one that ends like a hash) gets its characters escaped and 8 hex digits of its SHA-1, so
    ``x/y`` and ``x_y`` write different files."""
    name = SAFE_NAME.sub("_", call_id).strip(".")[:120]
    if name == call_id and not HASHED.search(call_id):
        return name
    return f"{name or 'call'}-{hashlib.sha1(call_id.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def to_rttm(call: CallAnalysis) -> str:
    uri = safe_name(call.call_id)
    segments = call.speaker_segments or tuple(call.turns)
    lines = []
    for s in segments:
        speaker = call.roles.get(s.speaker, s.speaker) if call.roles else s.speaker
        speaker = f"{speaker}" if speaker != "unknown" else s.speaker
        lines.append(f"SPEAKER {uri} 1 {s.start:.3f} {s.end - s.start:.3f} <NA> <NA> {speaker} <NA> <NA>")
    return "\n".join(lines) + ("\n" if lines else "")


def _clock(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_label(call: CallAnalysis, turn) -> str:
    return turn.role if turn.role != "unknown" else turn.speaker


def to_srt(call: CallAnalysis) -> str:
    blocks = []
    for i, t in enumerate(call.turns, 1):
        blocks.append(f"{i}\n{_clock(t.start, ',')} --> {_clock(t.end, ',')}\n[{_cue_label(call, t)}] {t.text}\n")
    return "\n".join(blocks)


def to_vtt(call: CallAnalysis) -> str:
    blocks = ["WEBVTT\n"]
    for t in call.turns:
        blocks.append(f"{_clock(t.start, '.')} --> {_clock(t.end, '.')}\n<v {_cue_label(call, t)}>{t.text}\n")
    return "\n".join(blocks)


def write_call_files(call: CallAnalysis, out_dir: Path) -> Path:
    """Write calls/<id>.json (+ .rttm, .srt, .vtt for calls with turns whose times are not
    estimated: subtitles and speaker times from made-up times would read as fact); returns the
    JSON path."""
    folder = out_dir / "calls"
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(call.call_id)
    path = folder / f"{stem}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(call.to_json(), indent=1, ensure_ascii=False))
    tmp.replace(path)  # atomic: a reader never sees half a file
    if call.ok and call.turns and call.call.timing != Timing.ESTIMATED:
        (folder / f"{stem}.rttm").write_text(to_rttm(call))
        (folder / f"{stem}.srt").write_text(to_srt(call))
        (folder / f"{stem}.vtt").write_text(to_vtt(call))
    return path
