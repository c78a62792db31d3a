"""Customer-turn trust read in context (engine/emotion/context.py, engine/stages/context.py) and
the shape classifier fitted with it (engine/stages/trajectory.py): the loaders on tiny random
heads built here, and the shipped head on calls written here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wocas.config import EmotionConfig, load_config
from wocas.emotion.context import FEATURE_VERSION, SCALARS, ContextHead, save_head
from wocas.pipeline import Pipeline, build_stages, stage_plan
from wocas.stages.trajectory import ShapeClassifier, TrajectoryStage

from tests.test_emotion import transcript_call

CLOSING = "Okay. Thanks, bye."
REFUSED = [
    ("agent", "Good morning, how can I help?"),
    ("customer", "Hi, I was charged a late fee but I paid on time."),
    ("agent", "I'm afraid I can't remove the fee, it's our policy and there's nothing I can do."),
    ("customer", CLOSING),
]
FIXED = [
    ("agent", "Good morning, how can I help?"),
    ("customer", "Hi, I was charged a late fee but I paid on time."),
    ("agent", "I can see that, I've removed the fee and refunded it to your account today."),
    ("customer", CLOSING),
]
ANGRY_THEN_POLITE = [
    ("agent", "Thanks for calling, how can I help?"),
    ("customer", "This is the fourth time I've called about my broken boiler and nobody has come out."),
    ("agent", "I'm sorry, I can't book an engineer this week, the earliest is in three weeks."),
    ("customer", "Three weeks? I've got no heating. This is ridiculous."),
    ("agent", "I understand. I've noted it on your file."),
    ("customer", "Right. Fine. Thank you for your help, goodbye."),
]


def _random_head(folder, dim: int = 8, seed: int = 0, **config) -> None:
    rng = np.random.default_rng(seed)
    save_head(folder, rng.normal(size=3 * dim + len(SCALARS)), 0.1, rng.normal(size=len(SCALARS)),
              rng.uniform(0.5, 2.0, len(SCALARS)), {"encoder": "minilm", "embedding_dim": dim, **config})


def test_context_head_loader_on_a_random_head(tmp_path):
    _random_head(tmp_path)
    head = ContextHead(tmp_path)
    x = np.random.default_rng(1).normal(size=(5, 3 * 8 + len(SCALARS))).astype(np.float32) * 10
    trust = head.predict(x)
    assert trust.shape == (5,) and np.all(np.abs(trust) <= 1.0)
    assert head.predict(np.zeros((0, 3 * 8 + len(SCALARS)), dtype=np.float32)).shape == (0,)


def test_context_head_refuses_missing_mismatched_or_stale_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="needs config.json and head.npz"):
        ContextHead(tmp_path)
    _random_head(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "embedding_dim": 16}))
    with pytest.raises(ValueError, match="expected"):
        ContextHead(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "feature_version": FEATURE_VERSION + 1}))
    with pytest.raises(ValueError, match="retrain"):
        ContextHead(tmp_path)


def test_shape_classifier_refuses_other_features(tmp_path):
    np.savez(tmp_path / "shape.npz", coef=np.zeros((2, 3)), intercept=np.zeros(2), mean=np.zeros(3), scale=np.ones(3))
    (tmp_path / "shape.json").write_text(json.dumps({"classes": ["recovered", "steady-negative"],
                                                     "features": ["opening", "closing", "lowest"],
                                                     "outcome_weight": 0.0}))
    with pytest.raises(ValueError, match="refit"):
        ShapeClassifier(tmp_path)


def test_context_stage_follows_emotion_and_can_be_turned_off():
    names = [cls.name for cls, _ in stage_plan(load_config())]
    assert names.index("context") == names.index("emotion") + 1
    off = [cls.name for cls, _ in stage_plan(load_config(overrides={"emotion": {"context_model": ""}}))]
    assert "context" not in off


def _reader(context_model: str):
    config = load_config(overrides={"emotion": {"context_model": context_model}})
    pipeline = Pipeline(build_stages(config, until="context" if context_model else "emotion"), config)
    return lambda lines: pipeline.process([transcript_call(lines)])[0]


def test_a_ritual_goodbye_is_not_read_as_trust_and_reads_lower_after_a_refusal():
    in_context, alone = _reader("trust-context"), _reader("")
    refused, fixed, refused_alone = in_context(REFUSED), in_context(FIXED), alone(REFUSED)
    assert refused.turns[-1].text == fixed.turns[-1].text == CLOSING
    assert "context" in refused.turns[-1].emotion.sources
    # alone, the goodbye's gratitude reads as trust; in context it says little, less after a refusal
    assert refused_alone.turns[-1].emotion.trust > 0.2
    assert refused.turns[-1].emotion.trust < refused_alone.turns[-1].emotion.trust - 0.2
    assert refused.turns[-1].emotion.trust < fixed.turns[-1].emotion.trust
    assert refused.turns[-1].emotion.trust < 0
    assert refused.turns[0].emotion == refused_alone.turns[0].emotion  # agent turns are left as they were


def test_a_polite_goodbye_after_an_unsolved_complaint_is_not_a_recovery():
    config = load_config()
    call = Pipeline.from_config(config).process([transcript_call(ANGRY_THEN_POLITE)])[0]
    customer = call.trajectories["customer"]
    assert customer.shape in ("steady-negative", "deteriorated")
    assert customer.closing < 0
    fitted = TrajectoryStage(config.emotion).shape_classifier()
    assert fitted is not None and set(fitted.classes) == {"recovered", "deteriorated", "steady-positive",
                                                          "steady-negative", "volatile"}
    assert TrajectoryStage(EmotionConfig(context_model="")).shape_classifier() is None
