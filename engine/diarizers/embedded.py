"""The embedded diarizer: silero-vad speech regions, resemblyzer d-vectors on short windows
of speech, spectral clustering into speakers, and a Viterbi re-segmentation of frame-level
speaker scores.

Steps (times in seconds, one mel frame = 10 ms):

1. VAD gives a speech mask; only speech frames are embedded (silence would form its own
   "speaker" cluster and dilute every window that straddles a pause).
2. Inside each speech region, windows of ``window`` s slide by ``step`` s (a region shorter
   than a window gives one shorter window); each gets an L2-normalised d-vector.
3. Windows are clustered: spectral clustering on a pruned cosine affinity (Wang et al.,
   2018), with the speaker count given or estimated (by default: average-linkage clustering
   of segment-mean d-vectors, cut at a cosine distance; eigengap and NME-SC are options);
   then k-means-style refinement of the centroids. Count and clustering run on at most
   ``max_cluster_windows`` points; on longer calls every window then takes its nearest
   centroid, so no n × n matrix grows with the call.
4. Every decision frame of ``frame`` s scores each speaker by the cosine of the windows that
   cover it against the speaker centroids; a Viterbi pass (one state per speaker, a fixed
   penalty per change) picks the frame path, so a label only changes where the evidence holds.
5. Pauses up to ``fill_gap`` s inside one speaker's talk are filled, as references do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from wocas.diarizers.speaker_encoder import EMBEDDING_SIZE, MEL_CHANNELS, load_encoder
from wocas.diarizers.vad import load_vad, speech_regions
from wocas.models.viterbi import best_path
from wocas.schema import AudioView, SpeakerSegment

log = logging.getLogger(__name__)

MEL_STEP = 0.01  # resemblyzer mel frames are 10 ms apart
SAMPLE_RATE = 16000  # resemblyzer's and silero's native rate


@dataclass(frozen=True)
class EmbeddedDiarizerOptions:
    num_speakers: int | None = 2  # None = estimate between min_speakers and max_speakers
    min_speakers: int = 2
    max_speakers: int = 8
    frame: float = 0.05  # seconds per decision frame
    window: float = 1.2  # seconds of speech per embedding window
    step: float = 0.2  # seconds between window starts
    min_window: float = 0.4  # shorter speech regions are labelled by their neighbours only
    min_speech: float = 0.2  # VAD regions shorter than this are dropped
    vad_threshold: float = 0.5
    prune: float = 0.2  # keep this share of the strongest affinities per row (at least 6)
    refine_iterations: int = 5
    switch_penalty: float = 0.5  # Viterbi cost of a speaker change, in cosine units
    smoothing: float = 0.3  # seconds: Gaussian spread of a window's vote around its centre
    fill_gap: float = 0.5  # pauses shorter than this inside one speaker's talk count as theirs
    max_cluster_windows: int = 3000  # longer calls: cluster an even subsample, then assign every window
    # How an unknown count is estimated: "ahc", "eigengap" or "nme". AHC at 0.35 on 8-window
    # segment means had the lowest DER with the estimated count on the tuning split of
    # benchmarks/speaker_count.py (AMI excerpts and built 3-4 voice recordings).
    count_method: str = "ahc"
    ahc_threshold: float = 0.35  # "ahc": cosine distance at which average-linkage merging stops
    ahc_min_share: float = 0.05  # "ahc": clusters with fewer windows than this share are not speakers
    count_group: int = 8  # windows averaged per speech segment before the count is estimated (1 = none)


MEL_HOP = int(SAMPLE_RATE * MEL_STEP)  # 160 samples
MEL_FFT = 400  # resemblyzer's 25 ms window


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """Resemblyzer's (linear, not log) 40-band mel spectrogram, shape (n_frames, 40)."""
    return mel_block(samples, 0, 1 + len(samples) // MEL_HOP)


def mel_block(samples: np.ndarray, first: int, last: int, gain: float = 1.0) -> np.ndarray:
    """Frames ``first``..``last - 1`` of resemblyzer's mel spectrogram of the whole signal,
    computed from that stretch of samples alone (frame t is centred on sample t * 160, the
    signal zero-padded at both ends as librosa's centred STFT does), so a long call never
    holds the spectrogram, or its STFT, of more than one block."""
    import librosa

    last = max(first, min(last, 1 + len(samples) // MEL_HOP))
    if last <= first:
        return np.zeros((0, MEL_CHANNELS), dtype=np.float32)
    lo, hi = first * MEL_HOP - MEL_FFT // 2, (last - 1) * MEL_HOP + MEL_FFT // 2
    chunk = np.zeros(hi - lo, dtype=np.float32)
    a, b = max(lo, 0), min(hi, len(samples))
    if b > a:
        chunk[a - lo:b - lo] = samples[a:b]
    if gain != 1.0:
        chunk *= gain
    mel = librosa.feature.melspectrogram(y=chunk, sr=SAMPLE_RATE, n_fft=MEL_FFT, hop_length=MEL_HOP,
                                         n_mels=MEL_CHANNELS, center=False)
    return np.ascontiguousarray(mel.astype(np.float32).T)


def speech_gain(samples: np.ndarray, speech: list[tuple[float, float]], target_dbfs: float = -30.0) -> float:
    """The gain that puts speech at resemblyzer's training loudness (the mel is linear, so gain
    matters), from the speech regions' energy, region by region (no copy of the call)."""
    energy, count = 0.0, 0
    for a, b in speech:
        part = samples[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)]
        energy += float(np.dot(part, part))  # float32 dot of one region; summed in float64
        count += len(part)
    rms = float(np.sqrt(energy / count)) if count else 0.0
    return 1.0 if rms <= 1e-8 else 10 ** (target_dbfs / 20) / rms


def window_spans(regions: list[tuple[float, float]], window: float, step: float, min_window: float,
                 ) -> list[tuple[float, float]]:
    """Embedding windows inside speech regions: full windows every ``step``, the last one flush
    with the region end; a region shorter than ``window`` gives one window of its own length."""
    spans: list[tuple[float, float]] = []
    for start, end in regions:
        length = end - start
        if length < min_window:
            continue
        if length <= window:
            spans.append((start, end))
            continue
        n = int(np.ceil((length - window) / step)) + 1
        starts = np.minimum(start + np.arange(n) * step, end - window)
        spans.extend((float(s), float(s) + window) for s in np.unique(np.round(starts, 3)))
    return spans


EMBED_BLOCK_SECONDS = 60.0  # mel computed and windows embedded one block of the call at a time
EMBED_BATCH = 128  # windows per encoder batch: the LSTM keeps every time step of a batch


def embed_windows(mel: np.ndarray, spans: list[tuple[float, float]], first_frame: int = 0) -> np.ndarray:
    """One L2-normalised d-vector per span (``mel`` starts at frame ``first_frame``); windows of
    equal length run in batches of at most ``EMBED_BATCH``."""
    encoder = load_encoder()
    bounds = [(int(round(a / MEL_STEP)) - first_frame, min(len(mel), int(round(b / MEL_STEP)) - first_frame))
              for a, b in spans]
    out = np.zeros((len(spans), EMBEDDING_SIZE), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(bounds):
        by_length.setdefault(b - a, []).append(i)
    for length, idx in by_length.items():
        if length <= 0:
            continue
        for k in range(0, len(idx), EMBED_BATCH):
            part = idx[k:k + EMBED_BATCH]
            out[part] = encoder.embed(np.stack([mel[bounds[i][0]:bounds[i][1]] for i in part]))
    return out


def embed_call(samples: np.ndarray, spans: list[tuple[float, float]], gain: float = 1.0,
               block: float = EMBED_BLOCK_SECONDS) -> np.ndarray:
    """d-vectors of all spans, streamed: the mel of one ``block`` of the call at a time (with the
    frames its last windows reach past the block), so memory does not grow with call length."""
    out = np.zeros((len(spans), EMBEDDING_SIZE), dtype=np.float32)
    starts = np.array([a for a, _ in spans])
    i = 0
    while i < len(spans):
        j = int(np.searchsorted(starts, starts[i] + block, side="left"))
        j = max(j, i + 1)
        first = int(round(spans[i][0] / MEL_STEP))
        last = max(int(round(b / MEL_STEP)) for _, b in spans[i:j])
        mel = mel_block(samples, first, last, gain)
        out[i:j] = embed_windows(mel, spans[i:j], first_frame=first)
        i = j
    return out


def affinity(embeddings: np.ndarray, prune: float) -> np.ndarray:
    """Cosine affinity, row-pruned to each window's nearest neighbours and symmetrised
    (float32, built in place: it is the largest array the diarizer holds)."""
    emb = np.asarray(embeddings, dtype=np.float32)
    sim = emb @ emb.T
    np.clip(sim, 0.0, 1.0, out=sim)
    n = len(sim)
    keep = min(n, max(6, int(np.ceil(prune * n))))
    threshold = -np.partition(-sim, keep - 1, axis=1)[:, keep - 1:keep]
    sim[sim < threshold] = 0.0
    return np.maximum(sim, sim.T)


def spectral_embedding(aff: np.ndarray, max_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the normalised Laplacian."""
    from scipy.linalg import eigh

    aff = np.asarray(aff, dtype=np.float32)
    d = (1.0 / np.sqrt(np.maximum(aff.sum(axis=1), 1e-10))).astype(np.float32)
    laplacian = aff * -d[:, None]
    laplacian *= d[None, :]
    laplacian[np.diag_indices(len(aff))] += 1.0
    values, vectors = eigh(laplacian, subset_by_index=[0, min(len(aff), max_k + 1) - 1], overwrite_a=True,
                           check_finite=False)
    return values.astype(np.float64), vectors.astype(np.float64)


def estimate_speakers(values: np.ndarray, min_speakers: int, max_speakers: int) -> int:
    """The eigengap heuristic: the count whose next Laplacian eigenvalue jumps most."""
    gaps = np.diff(values[: max_speakers + 1])
    lo = max(1, min_speakers)
    hi = min(max_speakers, len(gaps))
    if hi < lo:
        return lo
    return int(lo + np.argmax(gaps[lo - 1:hi]))


def estimate_speakers_ahc(embeddings: np.ndarray, threshold: float, min_share: float,
                          min_speakers: int, max_speakers: int) -> int:
    """Average-linkage clustering on cosine distance, stopped at ``threshold``; the count is
    the number of clusters holding at least ``min_share`` of the windows (stray windows at
    turn changes form tiny clusters of their own)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(embeddings) < 2:
        return max(1, min_speakers)
    tree = linkage(np.asarray(embeddings, dtype=np.float64), method="average", metric="cosine")
    sizes = np.bincount(fcluster(tree, t=threshold, criterion="distance"))[1:]
    k = int((sizes >= max(2, min_share * len(embeddings))).sum())
    return int(np.clip(k, max(1, min_speakers), max_speakers))


def estimate_speakers_nme(embeddings: np.ndarray, min_speakers: int, max_speakers: int,
                          max_windows: int = 1000) -> int:
    """The speaker count of auto-tuned spectral clustering (NME-SC, Park et al., 2019): for
    each pruning level p, the cosine affinity keeps each row's p strongest neighbours (as 1s),
    and the level whose Laplacian shows the clearest eigengap (the smallest ratio of p to the
    normalised maximum eigengap) gives the count at that gap."""
    emb = np.asarray(embeddings, dtype=np.float64)
    if len(emb) > max_windows:
        emb = emb[np.linspace(0, len(emb) - 1, max_windows).round().astype(int)]
    n = len(emb)
    if n < 4:
        return max(1, min_speakers)
    sim = emb @ emb.T
    order = np.argsort(-sim, axis=1)
    hi = min(max_speakers, n - 1)
    best, best_k = np.inf, max(1, min_speakers)
    for p in sorted({max(2, int(round(f * n))) for f in np.arange(0.01, 0.26, 0.01)}):
        if p >= n:
            continue
        binary = np.zeros((n, n))
        np.put_along_axis(binary, order[:, :p], 1.0, axis=1)
        aff = (binary + binary.T) / 2
        laplacian = np.diag(aff.sum(axis=1)) - aff
        values = np.linalg.eigvalsh(laplacian)
        gaps = np.diff(values[: hi + 1])
        lo = max(1, min_speakers)
        if hi < lo:
            break
        k = int(lo + np.argmax(gaps[lo - 1:hi]))
        ratio = p / (gaps[k - 1] / max(values[-1], 1e-10) + 1e-10)
        if ratio < best:
            best, best_k = ratio, k
    return best_k


def kmeans_labels(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(points)


def refine(embeddings: np.ndarray, labels: np.ndarray, iterations: int) -> np.ndarray:
    """Spherical k-means from the spectral partition: reassign to the nearest centroid."""
    for _ in range(iterations):
        cents = centroids(embeddings, labels)
        new = (embeddings @ cents.T).argmax(axis=1)
        if np.array_equal(new, labels) or len(np.unique(new)) < len(cents):
            break
        labels = new
    return labels


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1
    cents = np.stack([embeddings[labels == c].mean(axis=0) if np.any(labels == c)
                      else np.zeros(embeddings.shape[1]) for c in range(k)])
    return cents / np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-10)


def segment_means(embeddings: np.ndarray, groups: np.ndarray | None, size: int) -> np.ndarray:
    """Mean d-vectors of runs of at most ``size`` consecutive windows of one speech region
    (``groups``: each window's region), L2-normalised: less noisy than single windows."""
    if size <= 1 or groups is None or len(embeddings) == 0:
        return embeddings
    starts = [0]
    for i in range(1, len(embeddings)):
        if groups[i] != groups[i - 1] or i - starts[-1] >= size:
            starts.append(i)
    means = np.add.reduceat(np.asarray(embeddings, dtype=np.float64), starts, axis=0)
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-10)


def estimate_count(embeddings: np.ndarray, opts: EmbeddedDiarizerOptions, groups: np.ndarray | None = None) -> int:
    """The speaker count, on a bounded sample (at most ``max_cluster_windows`` points)."""
    points = segment_means(embeddings, groups, opts.count_group)
    if len(points) > opts.max_cluster_windows:
        points = points[np.linspace(0, len(points) - 1, opts.max_cluster_windows).round().astype(int)]
    if len(points) < 4:
        return max(1, opts.min_speakers)
    if opts.count_method == "ahc":
        return estimate_speakers_ahc(points, opts.ahc_threshold, opts.ahc_min_share,
                                     opts.min_speakers, opts.max_speakers)
    if opts.count_method == "nme":
        return estimate_speakers_nme(points, opts.min_speakers, opts.max_speakers)
    values, _ = spectral_embedding(affinity(points, opts.prune), opts.max_speakers)
    return estimate_speakers(values, opts.min_speakers, opts.max_speakers)


def cluster(embeddings: np.ndarray, opts: EmbeddedDiarizerOptions, groups: np.ndarray | None = None,
            ) -> np.ndarray:
    """Window labels 0..k-1 (spectral clustering, then centroid refinement); ``groups`` gives
    each window's speech region (for the count estimate).

    The count is estimated first, on at most ``max_cluster_windows`` points. The affinity
    matrix is n × n, so a long call (a two-hour recording has ~30,000 windows) is clustered on
    an evenly spaced subsample and every window then takes its nearest centroid: memory stays
    bounded at ``max_cluster_windows``² whatever the call length.
    """
    n = len(embeddings)
    if opts.num_speakers is None and n >= 4:
        opts = replace(opts, num_speakers=estimate_count(embeddings, opts, groups))
    if n > opts.max_cluster_windows:
        picked = np.linspace(0, n - 1, opts.max_cluster_windows).round().astype(int)
        sub_labels = cluster(embeddings[picked], opts)
        labels = (embeddings @ centroids(embeddings[picked], sub_labels).T).argmax(axis=1)
        return refine(embeddings, labels, opts.refine_iterations)
    if opts.num_speakers is not None and n <= opts.num_speakers:
        return np.arange(n)
    if n < 4:
        return np.zeros(n, dtype=int)
    k = opts.num_speakers
    if k <= 1:
        return np.zeros(n, dtype=int)
    values, vectors = spectral_embedding(affinity(embeddings, opts.prune), k)
    points = vectors[:, :k]
    points = points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-10)
    labels = kmeans_labels(points, k)
    return refine(embeddings, labels, opts.refine_iterations)


def window_regions(regions: list[tuple[float, float]], spans: list[tuple[float, float]]) -> np.ndarray:
    """The index of the speech region each window lies in."""
    ends = np.array([b for _, b in regions])
    return np.searchsorted(ends, [a for a, _ in spans], side="left")


def frame_scores(spans: list[tuple[float, float]], embeddings: np.ndarray, cents: np.ndarray,
                 n_frames: int, frame: float, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """Per decision frame, each speaker's cosine score: the mean over windows covering the frame
    of cosine(window, centroid), weighted by a Gaussian of the distance to the window centre.
    Returns scores (n_frames, k) and the mask of frames some window covers."""
    times = (np.arange(n_frames) + 0.5) * frame
    cos = embeddings @ cents.T  # (n_windows, k)
    scores = np.zeros((n_frames, len(cents)))
    weight = np.zeros(n_frames)
    for (a, b), row in zip(spans, cos):
        lo, hi = int(a / frame), min(n_frames, int(np.ceil(b / frame)))
        w = np.exp(-0.5 * ((times[lo:hi] - (a + b) / 2) / spread) ** 2)
        scores[lo:hi] += w[:, None] * row[None, :]
        weight[lo:hi] += w
    covered = weight > 0
    scores[covered] /= weight[covered, None]
    return scores, covered


def fill_uncovered(scores: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Frames no window covers take the scores of the nearest covered frame."""
    if covered.all() or not covered.any():
        return scores
    idx = np.flatnonzero(covered)
    pos = np.searchsorted(idx, np.arange(len(scores)))
    left = idx[np.clip(pos - 1, 0, len(idx) - 1)]
    right = idx[np.clip(pos, 0, len(idx) - 1)]
    frames = np.arange(len(scores))
    nearest = np.where(np.abs(frames - left) <= np.abs(right - frames), left, right)
    return scores[nearest]


def viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """The label path maximising the summed scores minus ``penalty`` per label change."""
    return best_path(scores, -penalty * (1 - np.eye(scores.shape[1])))


class EmbeddedDiarizer:
    def __init__(self, options: EmbeddedDiarizerOptions = EmbeddedDiarizerOptions()):
        self.options = options

    def warm_up(self) -> None:
        """Load the models and run once on a short tone: the first call also pays for
        one-off JIT compilation (librosa's numba kernels, ONNX session set-up)."""
        load_vad()
        load_encoder()
        t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
        tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        speech_regions(tone, SAMPLE_RATE)
        embed_windows(mel_frames(tone), [(0.0, 1.2), (1.0, 2.2), (1.8, 3.0)])

    def embed(self, samples: np.ndarray | AudioView, sample_rate: int) -> "WindowEmbeddings":
        """Steps 1-2: speech regions and one d-vector per window (streamed in blocks). A
        ``AudioView`` (the call's int16 audio read as float32 on demand) is never converted
        whole: VAD, the gain and the mel spectrogram each read it a block at a time."""
        opts = self.options
        if not isinstance(samples, AudioView) or sample_rate != SAMPLE_RATE:
            samples = np.asarray(samples, dtype=np.float32)  # an AudioView is read a block at a time instead
            if samples.ndim != 1:
                raise ValueError(f"diarizer needs mono samples, got shape {samples.shape}")
        if sample_rate != SAMPLE_RATE:
            import librosa

            samples = librosa.resample(samples, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
        duration = len(samples) / SAMPLE_RATE
        regions = speech_regions(samples, SAMPLE_RATE, opts.vad_threshold, opts.min_speech)
        spans = window_spans(regions, opts.window, opts.step, opts.min_window) if regions else []
        embeddings = embed_call(samples, spans, speech_gain(samples, regions)) if spans \
            else np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        return WindowEmbeddings(duration, regions, spans, embeddings)

    def segment(self, windows: "WindowEmbeddings", labels: np.ndarray | None = None) -> list[SpeakerSegment]:
        """Steps 3-5 from the window embeddings; ``labels`` (one per window) skips clustering."""
        opts = self.options
        if not windows.regions:
            return []
        n_frames = int(np.ceil(windows.duration / opts.frame))
        speech = np.zeros(n_frames, dtype=bool)
        for start, end in windows.regions:
            speech[int(start / opts.frame):int(np.ceil(end / opts.frame))] = True
        if not windows.spans:
            return frames_to_segments(np.zeros(n_frames, dtype=int), speech, opts.frame, windows.duration)
        embeddings = windows.embeddings
        if labels is None:
            labels = cluster(embeddings, opts, window_regions(windows.regions, windows.spans))
        cents = centroids(embeddings, labels)
        scores, covered = frame_scores(windows.spans, embeddings, cents, n_frames, opts.frame, opts.smoothing)
        scores = fill_uncovered(scores, covered)
        path = np.zeros(n_frames, dtype=np.int64)
        path[speech] = viterbi(scores[speech], opts.switch_penalty)
        log.debug("diarized %.1fs: %d regions, %d windows, %d speakers", windows.duration,
                  len(windows.regions), len(windows.spans), len(cents))
        labels, speech = fill_pauses(path, speech, int(round(opts.fill_gap / opts.frame)))
        return frames_to_segments(labels, speech, opts.frame, windows.duration)

    def __call__(self, samples: np.ndarray | AudioView, sample_rate: int) -> list[SpeakerSegment]:
        return self.segment(self.embed(samples, sample_rate))


@dataclass(frozen=True)
class WindowEmbeddings:
    duration: float
    regions: list[tuple[float, float]]  # speech (VAD); nothing outside them is embedded or clustered
    spans: list[tuple[float, float]]
    embeddings: np.ndarray  # (len(spans), 256), L2-normalised


def fill_pauses(labels: np.ndarray, speech: np.ndarray, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, speech mask) with non-speech runs of at most ``max_frames`` filled when the same
    label is on both sides: references mark a turn as one stretch, pauses between phrases included."""
    labels, filled = labels.copy(), speech.copy()
    idx = np.flatnonzero(speech)
    for g in np.flatnonzero(np.diff(idx) > 1):
        before, after = idx[g], idx[g + 1]
        if after - before - 1 <= max_frames and labels[before] == labels[after]:
            filled[before + 1:after] = True
            labels[before + 1:after] = labels[before]
    return labels, filled


def frames_to_segments(labels: np.ndarray, speech: np.ndarray, frame: float,
                       duration: float | None = None) -> list[SpeakerSegment]:
    """Runs of equal label over speech frames, as segments sorted by start (clipped to duration)."""
    segments: list[SpeakerSegment] = []
    current, start = None, 0
    for i in range(len(labels) + 1):
        label = labels[i] if i < len(labels) and speech[i] else None
        if label != current:
            if current is not None:
                seg_start, seg_end = round(start * frame, 3), round(i * frame, 3)
                if duration is not None:
                    seg_end = min(seg_end, duration)
                if seg_end > seg_start:
                    segments.append(SpeakerSegment(speaker=f"SPEAKER_{int(current):02d}",
                                                   start=seg_start, end=seg_end))
            current, start = label, i
    return segments
