"""The speech the ASR stage transcribes: silero-vad's regions, widened over voiced sound next to them.

faster-whisper's VAD filter hands Whisper only what silero-vad calls speech. On some voices silero's
probability stays under its threshold for whole words (a strong sad or angry voice in RAVDESS reads
0.1-0.25 for a second of speech 75 dB above the silence), and the words before its first confident
frame are never transcribed: "dogs are sitting by the door" comes back as "by the door".

Here each region is widened, backwards and forwards, over the sound next to it that is as loud as
the region's own speech: frames within ``LEVEL_DROP_DB`` of the speech's level and at least
``FLOOR_MARGIN_DB`` over the recording's quiet floor, with pauses shorter than ``MAX_PAUSE_S``
between them. Loudness alone never starts a region (a door slam or hold music far from speech stays
out), and in noisy audio (floor within ``FLOOR_MARGIN_DB`` of the speech) nothing is widened.
Where nothing is widened the regions are silero's own and the transcript is the VAD filter's, word
for word: the audio is cut, joined and mapped back with faster-whisper's own functions.

Opt-in (``[asr] vad_widen = true``, CPU path). Measured in benchmarks/results/asr_vad_widen.md: it
brings strong-intensity RAVDESS close to normal intensity, but with tiny.en a breath just before an
utterance can be widened into and read as a word (LJ Speech through mu-law: +0.6 points).
"""

from __future__ import annotations

import numpy as np

FRAME = 512  # samples: 32 ms at 16 kHz, silero's own window
LEVEL_DROP_DB = 25.0  # a frame this far under the speech's level (95th percentile) is not speech
FLOOR_MARGIN_DB = 25.0  # ... nor one less than this over the recording's floor (10th percentile)
MAX_PAUSE_S = 0.2  # a quieter stretch shorter than this (a stop consonant) does not end the sound
MAX_WIDEN_S = 5.0  # at most this much is added on each side of a region
PAD_S = 0.4  # the margin kept around the widened edge, as silero's regions have (speech_pad_ms)


def frame_db(samples: np.ndarray) -> np.ndarray:
    """Mean power of each ``FRAME``-sample frame, in dB (full scale = 0)."""
    n = len(samples) // FRAME
    frames = np.asarray(samples[:n * FRAME], dtype=np.float32).reshape(n, FRAME)
    return 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def widen_regions(samples: np.ndarray, regions: list[dict], sample_rate: int = 16000) -> list[dict]:
    """``regions`` (silero's, ``{"start", "end"}`` in samples) each widened over the voiced sound next
    to it, overlapping ones merged. The same list back when nothing qualifies."""
    if not regions:
        return regions
    db = frame_db(samples)
    if len(db) < 2:
        return regions
    inside = np.zeros(len(db), dtype=bool)
    for r in regions:
        inside[r["start"] // FRAME:max(r["start"] // FRAME + 1, r["end"] // FRAME)] = True
    level = float(np.percentile(db[inside], 95)) if inside.any() else float(np.max(db))
    floor = float(np.percentile(db, 10))
    if level - floor < FLOOR_MARGIN_DB:  # noisy: the sound next to speech may be the noise
        return regions
    voiced = db >= max(level - LEVEL_DROP_DB, floor + FLOOR_MARGIN_DB)
    frame_s = FRAME / sample_rate
    max_pause, max_widen = int(MAX_PAUSE_S / frame_s), int(MAX_WIDEN_S / frame_s)
    pad = int(PAD_S * sample_rate)
    widened = []
    for r in regions:
        first = _reach(voiced, r["start"] // FRAME - 1, -1, max_pause, max_widen)
        last = _reach(voiced, min(len(db), r["end"] // FRAME), 1, max_pause, max_widen)
        start = min(r["start"], max(0, first * FRAME - pad)) if first is not None else r["start"]
        end = max(r["end"], min(len(samples), (last + 1) * FRAME + pad)) if last is not None else r["end"]
        widened.append({"start": int(start), "end": int(end)})
    merged: list[dict] = []
    for r in widened:
        if merged and r["start"] <= merged[-1]["end"]:
            merged[-1]["end"] = max(merged[-1]["end"], r["end"])
        else:
            merged.append(dict(r))
    return regions if merged == regions else merged


def _reach(voiced: np.ndarray, i: int, step: int, max_pause: int, max_widen: int) -> int | None:
    """From frame ``i`` outwards (``step`` -1 or +1), the last voiced frame reached before a pause
    longer than ``max_pause`` frames or ``max_widen`` frames in all; None if none is voiced."""
    last, quiet, walked = None, 0, 0
    while 0 <= i < len(voiced) and walked < max_widen:
        if voiced[i]:
            last, quiet = i, 0
        else:
            quiet += 1
            if quiet > max_pause:
                break
        i += step
        walked += 1
    return last


def speech_regions(samples: np.ndarray, widen: bool = True, sample_rate: int = 16000) -> list[dict]:
    """silero-vad's speech regions with faster-whisper's default VAD options (what its VAD filter
    keeps), widened by :func:`widen_regions` unless ``widen`` is False."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    regions = get_speech_timestamps(samples, VadOptions())
    return widen_regions(samples, regions, sample_rate) if widen else regions


def transcribe_regions(model, samples: np.ndarray, regions: list[dict], sample_rate: int = 16000, **kwargs):
    """Whisper over the regions joined end to end, its times mapped back onto ``samples``' clock:
    what faster-whisper's VAD filter does with silero's regions, here with any regions.
    Returns (segments, info), segments as a list."""
    from faster_whisper.transcribe import restore_speech_timestamps
    from faster_whisper.vad import collect_chunks

    pieces, _ = collect_chunks(samples, regions)
    joined = np.concatenate(pieces, axis=0)
    segments, info = model.transcribe(joined, **{**kwargs, "vad_filter": False})
    if regions:
        segments = restore_speech_timestamps(segments, regions, sample_rate)
    return list(segments), info
