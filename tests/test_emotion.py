"""Emotion and trajectory: the shipped head on real texts, prosody on real clips, call shapes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wocas.config import EmotionConfig
from wocas.emotion import acoustic
from wocas.emotion.fusion import FusionWeights, fuse
from wocas.emotion.text import lexicon_scores, load_head
from wocas.schema import Audio, Call, CallAnalysis, Turn
from wocas.stages.emotion import EmotionStage
from wocas.stages.trajectory import TrajectoryStage, trajectory

ROOT = Path(__file__).resolve().parent.parent
HEAD = ROOT / "models" / "emotion-minilm"

# A call written for this test: the customer opens calm, the fix fails, and they leave angry.
DETERIORATING = [
    ("agent", "Thank you for calling, this is Sam. How can I help you today?"),
    ("customer", "Hi Sam, I'd like to check when my replacement router will arrive, please."),
    ("agent", "Let me look. I'm afraid there is no replacement order on your account."),
    ("customer", "What? I was promised one last week. I've already called twice about this."),
    ("agent", "I'm sorry, I can't see any note of that. I can raise a new order, it takes ten days."),
    ("customer", "Ten days? That is completely unacceptable. I'm furious, I work from home and I've had no internet for a week."),
    ("agent", "I understand, but that is the earliest date I can give you."),
    ("customer", "This is ridiculous. You people are useless and I am sick of being lied to. I'm cancelling."),
]


def transcript_call(lines: list[tuple[str, str]], call_id: str = "t") -> CallAnalysis:
    turns, t = [], 0.0
    for i, (role, text) in enumerate(lines):
        duration = 0.35 * len(text.split()) + 0.5
        turns.append(Turn(index=i, speaker=role, role=role, start=t, end=t + duration, text=text))
        t += duration + 0.4
    return CallAnalysis(call=Call(call_id=call_id, source=f"{call_id}.json", kind="transcript"),
                        turns=tuple(turns), roles={"agent": "agent", "customer": "customer"}, duration=t)


def synthetic_truth_call(data_dir: Path, with_audio: bool) -> CallAnalysis:
    folder = data_dir / "calls_synthetic"
    truth = json.loads((folder / "dialogue_truth.json").read_text())
    role = {"A": "agent", "B": "customer"}
    turns = tuple(Turn(index=i, speaker=role[t["speaker"]], role=role[t["speaker"]], start=t["start"],
                       end=t["end"], text=t["text"], channel=0 if t["speaker"] == "A" else 1)
                  for i, t in enumerate(truth))
    audio = None
    if with_audio:
        samples, rate = sf.read(folder / "dialogue_60s_stereo16k.flac", dtype="float32", always_2d=True)
        audio = Audio(samples=np.ascontiguousarray(samples.T), sample_rate=rate, original_sample_rate=rate)
    return CallAnalysis(call=Call(call_id="synthetic", source=str(folder), kind="audio" if with_audio else "transcript",
                                  channels=("agent", "customer")),
                        turns=turns, roles={"agent": "agent", "customer": "customer"}, duration=60.0, audio=audio)


@pytest.fixture(scope="module")
def stage() -> EmotionStage:
    return EmotionStage(EmotionConfig())


def test_shipped_head_is_small_and_scores_real_goemotions_texts(data_dir: Path) -> None:
    assert sum(f.stat().st_size for f in HEAD.iterdir()) < 5_000_000  # an adapter, never an encoder copy
    head = load_head(str(HEAD))
    lines = (data_dir / "text" / "goemotions" / "test.tsv").read_text(encoding="utf-8").splitlines()[:100]
    texts = [line.split("\t")[0] for line in lines]
    gold = np.zeros((len(lines), len(head.labels)))
    for i, line in enumerate(lines):
        gold[i, [int(j) for j in line.split("\t")[1].split(",")]] = 1
    probs = head.probabilities(texts)
    assert probs.shape == (100, 28) and 0 <= probs.min() and probs.max() <= 1
    pred = probs >= head.thresholds
    micro_f1 = 2 * (pred * gold).sum() / (pred.sum() + gold.sum())
    assert micro_f1 > 0.45, micro_f1  # frozen-embedding heads sit well below this


def test_trust_sign_on_customer_service_lines(stage: EmotionStage) -> None:
    call = transcript_call([
        ("customer", "Thank you so much, that is a real relief. You've been brilliant."),
        ("customer", "This is ridiculous, I'm furious that nobody has fixed this yet."),
        ("customer", "My account number is four four seven eight."),
    ])
    emotions = [t.emotion for t in stage.process_call(call).turns]
    assert emotions[0].trust > 0.4 and emotions[1].trust < -0.4
    assert abs(emotions[2].trust) < abs(emotions[0].trust) and abs(emotions[2].trust) < abs(emotions[1].trust)
    for e in emotions:
        assert -1 <= e.trust <= 1 and 0 <= e.arousal <= 1 and 0 <= e.confidence <= 1 and -1 <= e.valence <= 1
        assert "text-head" in e.sources and "prosody" not in e.sources


def test_stage_batches_across_calls_like_one_at_a_time(stage: EmotionStage, data_dir: Path) -> None:
    a, b = synthetic_truth_call(data_dir, with_audio=False), transcript_call(DETERIORATING)
    together = stage.process_batch([a, b])
    alone = [stage.process_call(a), stage.process_call(b)]
    for x, y in zip(together, alone):
        assert [t.emotion.trust for t in x.turns] == pytest.approx([t.emotion.trust for t in y.turns], abs=1e-3)


def test_synthetic_call_recovers_and_angry_ending_deteriorates(stage: EmotionStage, data_dir: Path) -> None:
    shaper = TrajectoryStage(EmotionConfig())
    recovered, deteriorated = (shaper.process_call(c) for c in
                               stage.process_batch([synthetic_truth_call(data_dir, False), transcript_call(DETERIORATING)]))
    customer = recovered.trajectories["customer"]
    assert customer.shape == "recovered" and customer.turnaround >= 0.3
    assert customer.lowest_at == pytest.approx(28.388)  # "That is ridiculous ... really frustrating."
    angry = deteriorated.trajectories["customer"]
    assert angry.shape == "deteriorated" and angry.closing < -0.3 and angry.turnaround <= -0.3
    assert angry.lowest < -0.3 and angry.lowest_at > 30  # the two angry closing turns
    assert set(recovered.trajectories) == {"customer", "agent"}
    assert len(customer.points) == 5 and customer.turnaround == pytest.approx(customer.closing - customer.opening, abs=1e-3)


def test_prosody_on_the_stereo_call_uses_each_channel(stage: EmotionStage, data_dir: Path) -> None:
    call = stage.process_call(synthetic_truth_call(data_dir, with_audio=True))
    for t in call.turns:
        assert "prosody" in t.emotion.sources and 0 <= t.emotion.arousal <= 1
    out = TrajectoryStage(EmotionConfig()).process_call(call)
    assert out.trajectories["customer"].shape == "recovered"


def test_acoustic_arousal_ranks_angry_above_calm_for_one_actor(data_dir: Path) -> None:
    root = data_dir / "emotion" / "ravdess_subset"
    rows = [r for r in csv.DictReader(open(root / "labels.csv")) if r["actor"] == "01"]

    def measures(emotion: str, intensity: str | None = None) -> list[acoustic.Prosody]:
        picked = [r for r in rows if r["emotion"] == emotion and intensity in (None, r["intensity"])]
        return [acoustic.measure(sf.read(root / r["file"], dtype="float32")[0], 16000) for r in picked]

    base = acoustic.Baseline.of(measures("neutral"))
    angry = [acoustic.arousal(m, base)[0] for m in measures("angry", "strong")]
    calm = [acoustic.arousal(m, base)[0] for m in measures("calm", "normal")]
    assert min(angry) > max(calm), (angry, calm)
    assert all(0 <= a <= 1 for a in angry + calm)


def test_fusion_text_gives_direction_sound_gives_intensity() -> None:
    w = FusionWeights()
    flat = fuse(-0.5, 0.5, 0.8, -0.5, 0.2, 1.0, 12, w)[2]
    loud = fuse(-0.5, 0.5, 0.8, -0.5, 0.9, 1.0, 12, w)[2]
    assert loud < flat < 0  # same words, said with more energy: more frustrated
    assert fuse(0.5, 0.5, 0.8, 0.5, 0.9, 1.0, 12, w)[2] > 0  # loud but pleased stays positive


def test_lexicon_fallback_without_a_head() -> None:
    scores = lexicon_scores(["I love this, thank you!", "This is terrible and I hate it"])
    assert scores.valence[0] > 0.3 and scores.valence[1] < -0.3
    stage = EmotionStage(EmotionConfig(text_model="lexicon"))
    out = stage.process_call(transcript_call(DETERIORATING))
    assert out.turns[-1].emotion.trust < 0 and out.turns[-1].emotion.sources[0] == "lexicon"


def test_trajectory_shapes_from_trust_sequences() -> None:
    def turns(values: list[float]) -> list[Turn]:
        from wocas.schema import Emotion

        return [Turn(index=i, speaker="c", role="customer", start=float(i), end=i + 0.5, text="x",
                     emotion=Emotion(valence=v, arousal=0.5, trust=v, confidence=1.0)) for i, v in enumerate(values)]

    assert trajectory(turns([0.6, 0.5, 0.7, 0.6]), "customer").shape == "steady-positive"
    assert trajectory(turns([-0.5, -0.6, -0.4, -0.5]), "customer").shape == "steady-negative"
    assert trajectory(turns([0.7, -0.7, 0.7, -0.7, 0.7, -0.6, 0.6]), "customer").shape == "volatile"
    assert trajectory(turns([-0.6, -0.7, 0.1, 0.6, 0.7]), "customer").shape == "recovered"
    low = trajectory(turns([0.2, -0.1, -0.9, 0.3]), "customer")
    assert low.lowest_at == 2.0
    assert trajectory([], "agent") is None
