"""Who spoke when on a stereo call, from each channel's own speech detection.

Each channel is one party, so the speaker timeline is each channel's speech: silero-vad
run on the channel alone. A voice also leaks into the other channel (echo, crosstalk,
a headset picking up the far end), typically 15-30 dB lower and a few ms late; silero
hears that leak as speech. So a channel's speech is kept only in frames where the channel
dominates, or where it stands clearly above the level its partner's voice leaks at: the
leak level (partner's voice seen in this channel, in dB relative to the partner's own
channel) is measured on each call from the frames where the partner is talking loudly.
Thresholds were chosen on the tune split of ``benchmarks/stereo_timeline.py``.

The recogniser's words then attach to this timeline (``attach_words``): a word off its
channel's speech that the partner said at the same moment is the partner's leak, transcribed
twice, and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wocas.schema import SpeakerSegment, Word

FRAME_SECONDS = 0.01  # energy frames; shape of every per-frame array below: (channels, frames)


@dataclass(frozen=True)
class ChannelTimelineOptions:
    vad_threshold: float = 0.35  # silero's speech probability
    smooth_seconds: float = 0.05  # energy smoothing
    echo_seconds: float = 0.1  # a leak may lag its source by up to this (line echo, a decaying tail)
    dominance_db: float = 0.0  # a channel at least this much louder than the other keeps its frame
    leak_margin_db: float = 14.0  # ... or at least this far above the measured leak level
    leak_quantile: float = 0.3  # of (this - partner) dB over the partner's loud frames = the leak level
    loud_db: float = 20.0  # partner frames within this of the partner's loudest speech count as loud
    min_speech: float = 0.2  # speech runs shorter than this are dropped
    max_gap: float = 0.5  # pauses shorter than this inside one party's speech are bridged
    pad: float = 0.0  # seconds added to each end of a speech run
    edge_drop_db: float = 35.0  # run edges move to where the sound is within this of the run's loudest ...
    edge_floor_db: float = 6.0  # ... and this far above the channel's noise floor (0 = leave silero's edges)
    edge_reach: float = 0.3  # how far an edge may move outwards


BLOCK_FRAMES = 6000  # frames read at a time (a minute at 10 ms): a long call is never copied whole


def channel_rows(samples) -> list:
    """The channels as 1-D sequences sliced on demand: the rows of a (channels, samples) array,
    or the ``AudioView``s of a call's int16 audio as they are given."""
    return list(samples)


def frame_db(samples, sample_rate: int, frame: float = FRAME_SECONDS, smooth: float = 0.05) -> np.ndarray:
    """Smoothed frame power in dB, shape (channels, frames); read a block of frames at a time."""
    rows = channel_rows(samples)
    hop = max(1, int(round(frame * sample_rate)))
    n = len(rows[0]) // hop
    power = np.zeros((len(rows), n))
    for c, row in enumerate(rows):
        for f in range(0, n, BLOCK_FRAMES):
            k = min(BLOCK_FRAMES, n - f)
            block = np.asarray(row[f * hop:(f + k) * hop], dtype=np.float64)
            power[c, f:f + k] = np.square(block).reshape(k, hop).mean(axis=1)
    width = min(n, max(1, int(round(smooth / frame))))
    if width > 1:
        kernel = np.ones(width) / width
        power = np.stack([np.convolve(p, kernel, mode="same") for p in power])
    return 10 * np.log10(power + 1e-12)


def vad_mask(samples: np.ndarray, sample_rate: int, n_frames: int, threshold: float,
             frame: float = FRAME_SECONDS) -> np.ndarray:
    """silero-vad's speech of one channel as a frame mask, shape (frames,)."""
    from wocas.diarizers.vad import speech_regions

    mask = np.zeros(n_frames, dtype=bool)
    for start, end in speech_regions(samples, sample_rate, threshold=threshold, min_speech=0.1):
        mask[int(start / frame):int(np.ceil(end / frame))] = True
    return mask


def recent_max(values: np.ndarray, frames: int) -> np.ndarray:
    """Each frame's maximum over itself and the ``frames`` before it, shape of ``values``."""
    if frames <= 0:
        return values
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.concatenate([np.full(frames, values[0] if values.dtype != bool else False), values])
    return sliding_window_view(padded, frames + 1).max(axis=1)


def leak_level(db: np.ndarray, vad: np.ndarray, dst: int, src: int, opts: ChannelTimelineOptions) -> float:
    """dB of ``src``'s voice as heard in ``dst``, relative to ``src``'s own channel: a low
    quantile of (dst - src) over the frames where ``src`` speaks loudly (where ``dst`` talks
    over ``src`` the difference is higher, so the low quantile is the leak). Very negative
    when nothing leaks."""
    active = vad[src]
    if not active.any():
        return -120.0
    loud = active & (db[src] >= np.quantile(db[src][active], 0.95) - opts.loud_db)
    if loud.sum() < 10:
        return -120.0
    return float(np.quantile(db[dst][loud] - db[src][loud], opts.leak_quantile))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(first, last + 1)] of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def clean(mask: np.ndarray, min_speech: float, max_gap: float, pad: float = 0.0,
          frame: float = FRAME_SECONDS) -> np.ndarray:
    """Bridge short pauses, drop short runs, widen the rest by ``pad``."""
    out = mask.copy()
    spans = runs(out)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if (start - end) * frame < max_gap:
            out[end:start] = True
    for start, end in runs(out):
        if (end - start) * frame < min_speech:
            out[start:end] = False
    width = int(round(pad / frame))
    for start, end in runs(out) if width else ():
        out[max(0, start - width):end + width] = True
    return out


def refine_edges(mask: np.ndarray, db: np.ndarray, allowed: np.ndarray, opts: ChannelTimelineOptions,
                 frame: float = FRAME_SECONDS) -> np.ndarray:
    """Each run's edges moved to where its sound starts and ends: silero's edges lag a soft
    onset and hold on through a tail of line noise. An edge moves inwards over frames below
    the run's threshold and outwards (at most ``edge_reach``, never onto frames not
    ``allowed``) over frames above it."""
    if opts.edge_floor_db <= 0:
        return mask
    floor = float(np.quantile(db, 0.1))
    reach = int(round(opts.edge_reach / frame))
    out = np.zeros_like(mask)
    for start, end in runs(mask):
        threshold = max(floor + opts.edge_floor_db, float(db[start:end].max()) - opts.edge_drop_db)
        loud = np.flatnonzero(db[start:end] >= threshold)
        if not len(loud):
            continue
        a, b = start + int(loud[0]), start + int(loud[-1]) + 1
        while a > max(0, start - reach) and db[a - 1] >= threshold and allowed[a - 1]:
            a -= 1
        while b < min(len(db), end + reach) and db[b] >= threshold and allowed[b]:
            b += 1
        out[a:b] = True
    return out


def channel_vad(samples, sample_rate: int, threshold: float) -> np.ndarray:
    """silero-vad on each channel alone, shape (channels, frames)."""
    rows = channel_rows(samples)
    n = len(rows[0]) // max(1, int(round(FRAME_SECONDS * sample_rate)))
    return np.stack([vad_mask(row, sample_rate, n, threshold) for row in rows])


def channel_masks(samples, sample_rate: int,
                  opts: ChannelTimelineOptions = ChannelTimelineOptions(),
                  vad: np.ndarray | None = None) -> np.ndarray:
    """Each channel's own speech as frame masks, shape (channels, frames). ``vad``: the
    channels' speech detection at ``opts.vad_threshold`` when already computed."""
    db = frame_db(samples, sample_rate, smooth=opts.smooth_seconds)
    if vad is None:
        vad = channel_vad(samples, sample_rate, opts.vad_threshold)
    lag = int(round(opts.echo_seconds / FRAME_SECONDS))
    # what each channel's voice could be leaking now: its loudest over the last echo_seconds
    source = np.stack([recent_max(d, lag) for d in db])
    talking = np.stack([recent_max(v, lag) for v in vad])
    keep = vad.copy()
    allowed = np.ones_like(vad)  # frames not given to a partner's leak
    for dst in range(len(db)):
        for src in range(len(db)):
            if src == dst:
                continue
            diff = db[dst] - source[src]
            own = (diff >= opts.dominance_db) | (diff > leak_level(db, vad, dst, src, opts) + opts.leak_margin_db)
            allowed[dst] &= own | ~talking[src]  # only a partner talking (or just stopped) can leak
    keep &= allowed
    fine = np.stack([refine_edges(keep[c], db[c], allowed[c], opts) for c in range(len(keep))])
    return np.stack([clean(k, opts.min_speech, opts.max_gap, opts.pad) for k in fine])


def channel_timeline(samples, sample_rate: int, speakers: tuple[str, ...] | list[str],
                     opts: ChannelTimelineOptions = ChannelTimelineOptions(),
                     vad: np.ndarray | None = None) -> list[SpeakerSegment]:
    """Speech segments per channel, labelled with ``speakers`` (one per channel), sorted."""
    if len(channel_rows(samples)[0]) < opts.min_speech * sample_rate:
        return []
    masks = channel_masks(samples, sample_rate, opts, vad)
    segments = [SpeakerSegment(speaker=speakers[c], start=round(a * FRAME_SECONDS, 3), end=round(b * FRAME_SECONDS, 3))
                for c in range(masks.shape[0]) for a, b in runs(masks[c])]
    return sorted(segments, key=lambda s: (s.start, s.end, s.speaker))


def _overlap(word: Word, segments: list[SpeakerSegment], speaker: str) -> float:
    return sum(max(0.0, min(s.end, word.end) - max(s.start, word.start)) for s in segments if s.speaker == speaker)


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def attach_words(words: tuple[Word, ...], segments: list[SpeakerSegment],
                 tolerance: float = 0.3) -> tuple[Word, ...]:
    """Words kept on the timeline. A word off its own channel's speech that another channel
    also said at the same moment (same text, within ``tolerance`` s) is that channel's voice
    leaking in, transcribed twice, and is dropped. Any other word stays, on or off the speech
    (both parties talking at once; a quiet word the detector missed)."""
    out = []
    for w in words:
        if w.speaker is not None and _overlap(w, segments, w.speaker) == 0:
            said = _norm(w.text)
            if any(o.speaker not in (None, w.speaker) and _norm(o.text) == said
                   and o.start < w.end + tolerance and w.start < o.end + tolerance for o in words):
                continue
        out.append(w)
    return tuple(out)


def turn_bounds(start: float, end: float, speaker: str, segments: list[SpeakerSegment]) -> tuple[float, float]:
    """A turn's (start, end) widened to the speech segments of its speaker that its first and
    last words fall in: turn boundaries follow the speech timeline, not the word timings."""
    for s in segments:
        if s.speaker == speaker and s.start <= start < s.end:
            start = min(start, s.start)
        if s.speaker == speaker and s.start < end <= s.end:
            end = max(end, s.end)
    return round(start, 3), round(end, 3)
