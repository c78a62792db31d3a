"""The fitted resolution head (engine/resolution/head.py) loaded by path, and the satisfaction band
model (engine/satisfaction/call_model.py): loaders on tiny random models built here, the shipped
models on calls written here (not from any training or challenge file)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from wocas.config import ResolutionConfig, load_config
from wocas.pipeline import build_stages
from wocas.resolution.head import FEATURE_VERSION, PLACE, TRUST, ResolutionHead, save_head
from wocas.satisfaction import call_model as cm
from wocas.schema import Resolution
from wocas.stages.resolution import ResolutionStage

from tests.test_emotion import transcript_call

MODELS = Path(__file__).resolve().parents[1] / "models"
DIM = 384  # minilm
N_FEATURES = 6 + 7 + 6 + len(TRUST) + len(PLACE) + 2 * DIM  # agent votes, customer votes, shares, scalars, vectors

TRANSFER = [
    ("agent", "Good afternoon, Northway Bank, how can I help?"),
    ("customer", "Hi, I want to change the name on our joint mortgage after my divorce."),
    ("agent", "I'm sorry to hear that. Name changes on a mortgage are done by our mortgage servicing team, "
              "not by us here, so I'll need to put you through to them."),
    ("customer", "Okay, fine."),
    ("agent", "Bear with me, I'm transferring you now, please hold the line."),
    ("customer", "Thanks."),
]
FIXED = [
    ("agent", "Hello, you're through to Brightline Energy, how can I help?"),
    ("customer", "My meter reading was entered wrong and my bill is two hundred pounds too high."),
    ("agent", "I can see the reading, it's been typed in with an extra digit. I've corrected it and "
              "reissued the bill, the new amount is eighty four pounds and it's on your account now."),
    ("customer", "Oh brilliant, that's it sorted then. Thank you so much."),
    ("agent", "You're welcome, anything else?"),
    ("customer", "No, that's everything, bye."),
]


def _random_head(folder: Path, seed: int = 0, classes=tuple(Resolution), **config) -> None:
    rng = np.random.default_rng(seed)
    k = len(classes)
    save_head(folder, rng.normal(size=(k, N_FEATURES)) * 0.05, rng.normal(size=k), rng.normal(size=N_FEATURES) * 0.01,
              rng.uniform(0.5, 2.0, N_FEATURES), {"classes": [str(c) for c in classes], "encoder": "minilm",
                                                  "embedding_dim": DIM, **config})


def test_a_random_head_is_loaded_by_path_and_decides_with_its_evidence_turn(tmp_path):
    _random_head(tmp_path)
    stage = ResolutionStage(ResolutionConfig(model=str(tmp_path)))
    call = transcript_call(TRANSFER, call_id="transfer")
    out = stage.process_call(call).resolution
    row = stage.read([call])[0]["reading"].row()
    p = ResolutionHead(tmp_path).probabilities(row[None, :])[0]
    assert row.shape == (N_FEATURES,)
    assert out.state == Resolution(ResolutionHead(tmp_path).classes[int(np.argmax(p))])
    assert out.confidence == pytest.approx(float(p.max()), abs=1e-3)
    assert out.turn_index is not None and out.quote == " ".join(call.turns[out.turn_index].text.split())
    assert stage.process_call(transcript_call([])).resolution is None  # nothing said: no outcome


def test_the_head_changes_the_stage_version_and_empty_keeps_the_zero_shot_reader(tmp_path):
    _random_head(tmp_path)
    zero = ResolutionStage.version_for(ResolutionConfig(model=""))
    assert ResolutionStage.version_for(ResolutionConfig(model=str(tmp_path))) != zero
    call = transcript_call(TRANSFER)
    zero_shot = ResolutionStage(ResolutionConfig(model="")).process_call(call).resolution
    assert zero_shot == ResolutionStage().read([call])[0]["zero_shot"]


def test_a_head_of_another_feature_version_or_shape_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="needs config.json and head.npz"):
        ResolutionHead(tmp_path)
    _random_head(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "feature_version": FEATURE_VERSION + 1}))
    with pytest.raises(ValueError, match="retrain it"):
        ResolutionHead(tmp_path)
    _random_head(tmp_path, classes=tuple(Resolution)[:3])
    (tmp_path / "config.json").write_text(json.dumps({**config, "classes": [str(r) for r in Resolution]}))
    with pytest.raises(ValueError, match="weights of shape"):
        ResolutionHead(tmp_path)


def test_the_registry_pins_the_shipped_head():
    spec = tomllib.loads((MODELS / "registry.toml").read_text())["models"]["resolution-head"]
    for name, digest in spec["files"].items():
        assert hashlib.sha256((MODELS / spec["path"] / name).read_bytes()).hexdigest() == digest, name


@pytest.fixture(scope="module")
def read_in_context():
    """The default stages up to the context stage, and the shipped head's resolution stage."""
    config = load_config()
    stages = [s for s in build_stages(config, until="context") if not s.audio_only]
    head = ResolutionStage(ResolutionConfig(model="resolution-head"), stages[-1].encoder)

    def run(lines):
        call = transcript_call(lines)
        for stage in stages:
            call = stage.process_call(call)
        return head.process_call(call)
    return run


def test_the_shipped_head_reads_a_transfer_and_a_fix(read_in_context):
    transfer = read_in_context(TRANSFER).resolution
    assert transfer.state == Resolution.TRANSFERRED and 0 < transfer.confidence <= 1
    fixed = read_in_context(FIXED).resolution
    assert fixed.state == Resolution.RESOLVED


# ---- the satisfaction band ---------------------------------------------------------------------

def test_bands_by_cuts_by_the_survey_default_and_by_a_logistic_model():
    assert [cm.band_of(s, {}, None) for s in (1.0, 2.49, 2.5, 3.5, 3.51, 5.0)] == ["low", "low", "mid", "mid", "high", "high"]
    cuts = {"kind": "cuts", "cuts": [3.0, 3.2]}
    assert [cm.band_of(s, {}, cuts) for s in (2.9, 3.1, 3.3)] == ["low", "mid", "high"]
    k = len(cm.BAND_FEATURES)
    coef = np.zeros((3, k))
    coef[:, 0] = [-1.0, 0.0, 1.0]  # low, mid, high by the score alone
    logistic = {"kind": "logistic", "features": list(cm.BAND_FEATURES), "classes": ["high", "low", "mid"],
                "coef": coef[[2, 0, 1]].tolist(), "intercept": [0.0, 0.0, 0.0], "mean": [3.0] + [0.0] * (k - 1),
                "scale": [1.0] * k}
    assert cm.band_of(4.5, {}, logistic) == "high" and cm.band_of(1.5, {}, logistic) == "low"
    with pytest.raises(cm.CallModelError, match="fit_bands"):
        cm.band_of(3.0, {}, {**logistic, "features": ["score"]})


def test_a_survey_refit_goes_back_to_the_survey_bands():
    base = cm.load_call_model()
    rng = np.random.default_rng(0)
    rows = [{"text_s": float(v), "trust_closing": float(t)} for v, t in rng.normal(size=(20, 2))]
    params, _ = cm.refit(base, cm.design(rows), rng.uniform(-2, 2, 20))
    assert params["band"]["kind"] == "cuts" and params["band"]["cuts"] == list(cm.SURVEY_CUTS)


def test_the_satisfaction_stage_writes_the_shipped_band_models_band():
    from wocas.stages.satisfaction import SatisfactionStage

    config = load_config()
    stages = [s for s in build_stages(config) if s.name != "flags" and not s.audio_only]
    call = transcript_call(FIXED)
    for stage in stages:
        call = stage.process_call(call)
    sat = call.satisfaction
    model = cm.load_call_model()
    assert isinstance(stages[-1], SatisfactionStage) and "band" in model.params
    assert sat.band in cm.BANDS and sat.band == model.band(sat.score, dict(sat.features))


def test_the_training_scripts_read_every_training_file_and_refuse_a_call_twice():
    import sys

    sys.path.insert(0, str(MODELS.parent / "scripts"))
    from train_trust_context import read_training, training_args

    files = training_args("train", []).calls
    challenge = MODELS.parent / "benchmarks" / "challenge"
    assert {p.name for p in files} == ({p.name for p in (MODELS / "training").glob("trust_calls*.txt")}
                                       | {"calls.txt"} | {f"heldout{k}.txt" for k in range(2, 18)})
    assert not any(p.name in ("heldout18.txt", "heldout19.txt") for p in files)
    assert (challenge / "calls.txt") in files
    calls = read_training(files)
    assert len({c.call_id for c in calls}) == len(calls)
    assert {c.labels["split"] for c in calls} >= {"train", "tune", "heldout2", "heldout3", "heldout8"}
    with pytest.raises(SystemExit, match="more than one place"):
        read_training([files[0], files[0]])
