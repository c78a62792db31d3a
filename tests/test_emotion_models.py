"""Production models by path (tiny random-weight transformers models built here), the
trajectory picture, the store columns and ``wocas show --plot``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wocas.config import EmotionConfig
from wocas.emotion.labels import LabelMapError
from wocas.emotion.loaders import AudioClassifier, TextClassifier
from wocas.stages.emotion import EmotionStage
from wocas.stages.trajectory import TrajectoryStage
from tests.test_emotion import DETERIORATING, transcript_call

WORDS = "thank you so much this is ridiculous my bill is wrong great help cancel".split()


@pytest.fixture(scope="module")
def tiny_text_model(tmp_path_factory) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-text")
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]))
    BertTokenizer(str(path / "vocab.txt")).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=5 + len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, id2label={0: "anger", 1: "joy", 2: "neutral", 3: "Frustrated"},
                        label2id={"anger": 0, "joy": 1, "neutral": 2, "Frustrated": 3})
    BertForSequenceClassification(config).save_pretrained(path)
    return path


def test_text_classifier_by_path_maps_labels_to_valence_arousal(tiny_text_model: Path) -> None:
    model = TextClassifier(tiny_text_model)
    valence, arousal, probs = model.scores(["thank you so much", "this is ridiculous my bill is wrong", ""])
    assert probs.shape == (3, 4) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.all((-1 <= valence) & (valence <= 1)) and np.all((0 <= arousal) & (arousal <= 1))
    # An override moves the label's place: all weight on "joy" at +1 pushes valence up.
    lifted = TextClassifier(tiny_text_model, {"joy": (1.0, 0.5), "neutral": (1.0, 0.5)})
    assert np.all(lifted.scores(["thank you so much"])[0] > valence[0])


def test_unknown_label_is_a_clear_error(tmp_path: Path, tiny_text_model: Path) -> None:
    import shutil

    from transformers import AutoConfig

    copy = tmp_path / "odd"
    shutil.copytree(tiny_text_model, copy)
    config = AutoConfig.from_pretrained(copy)
    config.id2label = {0: "anger", 1: "joy", 2: "LABEL_2", 3: "zorp"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    config.save_pretrained(copy)
    with pytest.raises(LabelMapError, match="zorp"):
        TextClassifier(copy)
    assert TextClassifier(copy, {"LABEL_2": (0, 0.2), "zorp": (0.1, 0.3)}).labels[-1] == "zorp"


def test_emotion_stage_runs_on_a_transformers_text_model(tiny_text_model: Path) -> None:
    stage = EmotionStage(EmotionConfig(text_model=str(tiny_text_model), acoustic=False))
    call = TrajectoryStage(EmotionConfig()).process_call(stage.process_call(transcript_call(DETERIORATING)))
    assert all(t.emotion is not None and t.emotion.sources[0] == "transformers" for t in call.turns)
    assert call.trajectories["customer"].shape in ("recovered", "deteriorated", "steady-positive",
                                                   "steady-negative", "volatile")


def test_audio_classifier_by_path_on_a_real_clip(tmp_path: Path, data_dir: Path) -> None:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    labels = {0: "neu", 1: "hap", 2: "ang", 3: "sad"}
    config = Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                            conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_feat_extract_layers=2,
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=8,
                            id2label=labels, label2id={v: k for k, v in labels.items()})
    Wav2Vec2ForSequenceClassification(config).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(tmp_path)
    clip, rate = sf.read(data_dir / "emotion" / "ravdess_subset" / "03-01-05-02-01-01-01.wav", dtype="float32")
    model = AudioClassifier(tmp_path)
    valence, arousal, probs = model.scores([clip, clip[: rate // 2]], rate)
    assert probs.shape == (2, 4) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.all((-1 <= valence) & (valence <= 1)) and np.all((0 <= arousal) & (arousal <= 1))
    with pytest.raises(ValueError, match="8000"):
        model.scores([clip], 8000)


def test_plot_store_and_show(tmp_path: Path) -> None:
    from wocas.cli import main
    from wocas.analytics.plots import plot_trajectory
    from wocas.store import Store

    stage = EmotionStage(EmotionConfig(text_model="lexicon"))
    call = TrajectoryStage(EmotionConfig()).process_call(stage.process_call(transcript_call(DETERIORATING, "angry-1")))
    png = plot_trajectory(call, tmp_path / "angry.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in plot_trajectory(call, tmp_path / "angry.svg").read_text()
    with pytest.raises(ValueError, match=".png or .svg"):
        plot_trajectory(call, tmp_path / "angry.jpg")

    with Store(tmp_path / "wocas.duckdb") as store:
        store.write([call], "run-1", "test")
        row = store.query("SELECT trajectory_shape, trust_closing FROM calls WHERE call_id = 'angry-1'")[0]
        turns = store.query("SELECT trust FROM turns WHERE call_id = 'angry-1' ORDER BY idx")
    assert row["trajectory_shape"] == call.trajectories["customer"].shape
    assert [t["trust"] for t in turns] == [t.emotion.trust for t in call.turns]
    assert main(["show", "angry-1", "--out", str(tmp_path), "--plot", str(tmp_path / "show.svg")]) == 0
    assert (tmp_path / "show.svg").stat().st_size > 1000
