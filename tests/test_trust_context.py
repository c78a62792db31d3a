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


def test_ordinal_context_head_reads_the_expected_label(tmp_path):
    dim, p = 8, 3 * 8 + len(SCALARS)
    rng = np.random.default_rng(2)
    coef = np.tile(rng.normal(size=p), (4, 1))
    save_head(tmp_path, coef, np.array([3.0, 1.0, -1.0, -3.0]), np.zeros(len(SCALARS)), np.ones(len(SCALARS)),
              {"encoder": "minilm", "embedding_dim": dim, "reading": "ordinal", "cuts": [-1.5, -0.5, 0.5, 1.5]})
    head = ContextHead(tmp_path)
    x = rng.normal(size=(6, p)).astype(np.float32)
    z = x @ coef[0]
    expected = (-2 + sum(1 / (1 + np.exp(-(z + b))) for b in (3.0, 1.0, -1.0, -3.0))) / 2
    assert head.reading == "ordinal"
    assert np.allclose(head.predict(x), expected, atol=1e-5)
    assert np.all(np.abs(head.predict(x * 100)) <= 1.0)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "cuts": [0.0]}))
    with pytest.raises(ValueError, match="expected"):
        ContextHead(tmp_path)


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


def test_the_registry_pins_the_shipped_head_and_shape_classifier():
    import hashlib
    import tomllib
    from pathlib import Path

    models = Path(__file__).resolve().parents[1] / "models"
    spec = tomllib.loads((models / "registry.toml").read_text())["models"]["trust-context"]
    assert set(spec["files"]) == {"head.npz", "config.json", "shape.npz", "shape.json"}
    for name, digest in spec["files"].items():
        assert hashlib.sha256((models / spec["path"] / name).read_bytes()).hexdigest() == digest, name


def test_the_shape_classifier_reads_the_outcome_not_only_the_trust():
    from wocas.kinds import Resolution
    from wocas.schema import ResolutionState
    from wocas.stages.trajectory import SHAPE_FEATURES, outcome_trust, shape_features, trajectory

    call = _reader("trust-context")(ANGRY_THEN_POLITE)
    rows = {}
    for state in (Resolution.RESOLVED, Resolution.CUSTOMER_GAVE_UP):
        c = call.replace(resolution=ResolutionState(state=state, confidence=0.8))
        tr = trajectory([t for t in c.turns if t.role == "customer"], "customer", outcome=outcome_trust(c),
                        outcome_weight=0.0)
        rows[state] = shape_features(tr, outcome_trust(c), c)
    a, b = rows[Resolution.RESOLVED], rows[Resolution.CUSTOMER_GAVE_UP]
    assert a.shape == b.shape == (len(SHAPE_FEATURES),)
    named = dict(zip(SHAPE_FEATURES, a)), dict(zip(SHAPE_FEATURES, b))
    assert named[0]["resolution:resolved"] == pytest.approx(0.8) and named[0]["resolution:customer_gave_up"] == 0.0
    assert named[1]["resolution:customer_gave_up"] == pytest.approx(0.8) and named[1]["resolution:resolved"] == 0.0
    assert named[0]["opening"] == named[1]["opening"]  # the trust numbers do not depend on the outcome at weight 0


def _calls_file(path, ids_customers):
    path.write_text("".join(
        f"=== {i} | customer={c} | at=2026-10-01T09:10 | value=1 | shape=recovered | band=low | resolution=resolved"
        f" | leaving=no | split=train\nA: Hello.\nC(0): Hi.\n\n" for i, c in ids_customers))
    return path


def test_leave_one_writer_out_groups_by_file_and_never_splits_a_customer(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from lowo import adopted, block_name, default_sources, read_sources

    assert block_name("twenty writers", "minilm") == "twenty writers"
    assert block_name("twenty writers", "mpnet") == "twenty writers [encoder mpnet]"
    assert block_name("twenty writers [encoder mpnet]", "mpnet") == "twenty writers [encoder mpnet]"

    assert not any(p.stem in ("heldout18", "heldout19") for p in default_sources())
    assert {"heldout4", "heldout8", "heldout9", "heldout15", "heldout17"} <= {p.stem for p in default_sources()}
    a = _calls_file(tmp_path / "writer_a.txt", [("a1", "X1"), ("a2", "X2")])
    b = _calls_file(tmp_path / "writer_b.txt", [("b1", "Y1")])
    calls, writers = read_sources([a, b])
    assert [c.call_id for c in calls] == ["a1", "a2", "b1"] and list(writers) == ["writer_a", "writer_a", "writer_b"]
    c = _calls_file(tmp_path / "writer_c.txt", [("c1", "X1")])
    with pytest.raises(SystemExit, match="customer X1"):
        read_sources([a, c])
    for name in ("heldout18", "heldout19", "heldout23"):
        with pytest.raises(SystemExit, match="never read"):
            read_sources([_calls_file(tmp_path / f"{name}.txt", [("h1", "Z1")])])
    base = {"shape": 0.60, "band": 0.66, "resolution": 0.60}
    assert adopted({"shape": 0.62, "band": 0.645, "resolution": 0.60}, base, "shape")
    assert not adopted({"shape": 0.615, "band": 0.66, "resolution": 0.60}, base, "shape")
    assert not adopted({"shape": 0.65, "band": 0.63, "resolution": 0.60}, base, "shape")


def test_lowo_encoder_option_reaches_the_config_and_keeps_caches_apart(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from lowo import DEFAULT_ENCODER, base_config, cache_file, encoder_adopted, main

    from wocas.pipeline import stage_versions

    assert base_config().text_encoder.model == DEFAULT_ENCODER == "minilm"
    config = base_config("mpnet")
    assert config.text_encoder.model == "mpnet"
    assert config.emotion.context_model == "" and config.resolution.model == ""
    versions = stage_versions(config)  # nothing is loaded
    assert "mpnet:" in versions["jobs"] and "mpnet:" in versions["resolution"] and "mpnet:" in versions["signals"]
    assert "mpnet:" not in versions["emotion"]  # the emotion head keeps its own encoder
    assert cache_file(tmp_path) == tmp_path / "emotion.jsonl"  # the MiniLM records keep their file
    assert cache_file(tmp_path, "mpnet") != cache_file(tmp_path)
    base = {"shape": 0.60, "band": 0.66, "resolution": 0.60}
    assert encoder_adopted({"shape": 0.60, "band": 0.68, "resolution": 0.585}, base)
    assert not encoder_adopted({"shape": 0.619, "band": 0.67, "resolution": 0.61}, base)
    assert not encoder_adopted({"shape": 0.65, "band": 0.63, "resolution": 0.60}, base)
    with pytest.raises(SystemExit, match="needs it in --candidates"):
        main(["--encoder", "mpnet", "--write", "shape_outcome"])
    with pytest.raises(SystemExit, match="no such candidate"):
        main(["--encoder", "mpnet", "--candidates", "nonesuch", "--write", "nonesuch"])


def test_lowo_write_with_another_encoder_goes_to_new_models_never_the_shipped_ones(tmp_path):
    import sys
    import tomllib
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from lowo import register, written_paths

    shipped = written_paths("minilm", tmp_path)
    assert shipped["context"] == tmp_path / "trust-context" and shipped["resolution"] == tmp_path / "resolution-head"
    assert shipped["call_model"] == tmp_path / "satisfaction" / "call_model.json"
    other = written_paths("mpnet", tmp_path)
    assert other["context"] == tmp_path / "trust-context-mpnet"
    assert other["resolution"] == tmp_path / "resolution-head-mpnet"
    assert other["call_model"] == tmp_path / "satisfaction" / "call_model-mpnet.json"
    assert other["bands"] == tmp_path / "satisfaction" / "bands-mpnet.json"
    assert not {str(v) for v in other.values()} & {str(v) for v in shipped.values()}
    registry = tmp_path / "registry.toml"
    registry.write_text('[models."trust-context"]\nkind = "context-head"\npath = "trust-context"\n')
    register("minilm", shipped, registry)  # the shipped entries exist already: nothing added
    assert registry.read_text().count("[models.") == 1
    register("mpnet", other, registry)
    register("mpnet", other, registry)  # once only
    models = tomllib.loads(registry.read_text())["models"]
    assert set(models) == {"trust-context", "trust-context-mpnet", "resolution-head-mpnet", "satisfaction-call-mpnet"}
    assert set(models["trust-context-mpnet"]["files"]) == {"head.npz", "config.json", "shape.npz", "shape.json"}
    assert models["satisfaction-call-mpnet"]["path"] == "satisfaction/call_model-mpnet.json"
