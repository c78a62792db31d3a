"""A model shipped as a split zip across several installed packages (how all-mpnet-base-v2
arrives), joined, checked and unpacked once; and a head over an encoder other than the shared
one. The packages here are real installed distributions in a folder put on ``sys.path``,
holding a tiny random-weight sentence model."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from wocas.models import registry
from wocas.models.parts import ModelPartsError, assemble
from wocas.reasons.classify import HeadClassifier
from wocas.testing.tiny_models import build_tiny_sentence_model
from wocas.models.text_encoder import OnnxSentenceEncoder, TextEncoder, TorchSentenceEncoder

SENTENCES = ["my card hasn't arrived yet", "I want to close my account", "what's the exchange rate today"]
PARTS = ["tiny-st-part-001", "tiny-st-part-002", "tiny-st-part-003"]


def split_archive(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f"{folder.name}/{f.relative_to(folder)}")
    return out.getvalue()


def install_parts(site: Path, archive: bytes, names: list[str]) -> None:
    """Lay the archive out as the real part packages are: ``<pkg>/input/<model>.zip.NNN`` plus a
    dist-info whose RECORD lists it."""
    size = -(-len(archive) // len(names))
    for n, name in enumerate(names, start=1):
        module = name.replace("-", "_")
        piece = site / module / "input" / f"tiny.zip.{n:03d}"
        piece.parent.mkdir(parents=True)
        piece.write_bytes(archive[(n - 1) * size:n * size])
        info = site / f"{module}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{module}/input/tiny.zip.{n:03d},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")


@pytest.fixture()
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path / "cache"))
    model = build_tiny_sentence_model(tmp_path / "build" / "tiny-st")
    archive = split_archive(model)
    install_parts(tmp_path / "site", archive, PARTS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return {"model": model, "sha256": hashlib.sha256(archive).hexdigest(), "site": tmp_path / "site"}


def test_parts_are_joined_once_and_the_model_loads_from_the_cache(parts, tmp_path: Path) -> None:
    folder = assemble("tiny", PARTS, "tiny-st", parts["sha256"])
    assert folder.parent.parent == tmp_path / "cache" / "models"
    assert (folder / "model.safetensors").read_bytes() == (parts["model"] / "model.safetensors").read_bytes()
    assert not list(folder.parent.parent.glob(".tiny-*"))  # the working folder is gone
    reference = TorchSentenceEncoder(folder).encode(SENTENCES, 4)
    vectors = OnnxSentenceEncoder(folder, "fp32").encode(SENTENCES, 4)
    assert np.min(np.sum(vectors * reference, axis=1)) > 0.9999

    for piece in parts["site"].rglob("*.zip.*"):  # once unpacked, the parts are no longer read
        piece.unlink()
    assert assemble("tiny", PARTS, "tiny-st", parts["sha256"]) == folder


def test_a_damaged_part_is_refused_and_nothing_is_left_behind(parts, tmp_path: Path) -> None:
    piece = next(parts["site"].rglob("tiny.zip.002"))
    data = bytearray(piece.read_bytes())
    data[100] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(ModelPartsError, match=r"model tiny: the parts of tiny-st-part-001, .*SHA-256.*damaged"):
        assemble("tiny", PARTS, "tiny-st", parts["sha256"])
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_a_missing_part_is_a_model_not_found_that_says_how_to_install(parts) -> None:
    spec = {"parts": [*PARTS, "tiny-st-part-004"], "folder": "tiny-st", "sha256": parts["sha256"],
            "install": "WOCAS_EXTRAS=dev,tiny scripts/setup.sh"}
    with pytest.raises(registry.ModelNotFound,
                       match=r"package tiny-st-part-004 is not installed \(WOCAS_EXTRAS=dev,tiny scripts/setup.sh\)"):
        registry._joined_path("tiny", spec)
    with pytest.raises(registry.ModelNotFound, match="has no folder 'elsewhere'"):
        registry._joined_path("tiny", {**spec, "parts": PARTS, "folder": "elsewhere"})


def test_mpnet_is_registered_as_parts_with_a_digest() -> None:
    spec = registry._registry()["mpnet"]
    assert len(spec["parts"]) == 5 and spec["folder"] == "all-mpnet-base-v2" and len(spec["sha256"]) == 64
    assert "WOCAS_EXTRAS=dev,mpnet" in spec["install"]


def test_a_head_over_another_encoder_runs_that_encoder_itself(parts, tmp_path: Path, data_dir: Path) -> None:
    """Trained with ``--encoder``, the head records the encoder and embeds its texts with it, not
    with the shared MiniLM (whose 384-d vectors it could not even read: this one is 32-d)."""
    from wocas.cli import main

    folder = assemble("tiny", PARTS, "tiny-st", parts["sha256"])
    keep = ("card_arrival", "terminate_account")
    rows = list(csv.DictReader((data_dir / "text/banking77/train.csv").open()))
    data = tmp_path / "train.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *((r["text"], k) for k in keep
                                                      for r in [r for r in rows if r["category"] == k][:30])])
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "head"),
                 "--encoder", str(folder), "--mix", "0.5"]) == 0
    meta = json.loads((tmp_path / "head" / "head.json").read_text())
    assert meta["encoder"] == str(folder)
    assert f"`{folder}` encoder" in (tmp_path / "head" / "README.md").read_text()

    head = HeadClassifier(tmp_path / "head", TextEncoder())
    assert head.has_own_encoder() and head.coef.shape == (2, 32)
    shared = TextEncoder().encode(SENTENCES)
    assert shared.shape == (3, 384)
    with_shared_given = head.probabilities(SENTENCES, shared)
    np.testing.assert_allclose(with_shared_given, head.probabilities(SENTENCES), atol=1e-6)
    own = TextEncoder(str(folder)).encode(SENTENCES)
    assert own.shape == (3, 32)
    assert [p.best for p in head.predict(SENTENCES, shared)] == [head.labels[i] for i in with_shared_given.argmax(1)]


def test_a_head_whose_encoder_is_missing_fails_at_load_naming_both(tmp_path: Path) -> None:
    from wocas.reasons.taxonomy import TaxonomyError
    from wocas.reasons.training import save_head, train_head

    texts = ["where is my card", "my card never came", "close my account", "I want to leave the bank"]
    labels = ["card_arrival", "card_arrival", "terminate_account", "terminate_account"]
    save_head(tmp_path / "head", train_head(texts, labels, np.eye(4, 384, dtype=np.float32), lexical=False), {"encoder": str(tmp_path / "gone")})
    with pytest.raises(TaxonomyError, match=rf"intent head {tmp_path / 'head'} reads its texts with encoder "
                                            rf"'{tmp_path / 'gone'}': unknown model"):
        HeadClassifier(tmp_path / "head", TextEncoder())


@pytest.mark.skipif(not registry.available("mpnet"), reason="the optional mpnet encoder is not installed "
                                                    "(WOCAS_EXTRAS=dev,mpnet scripts/setup.sh)")
def test_the_shipped_mpnet_head_answers_with_taxonomy_reasons(data_dir: Path) -> None:
    rows = list(csv.DictReader((data_dir / "text/banking77/test.csv").open()))[::20]
    folder = registry.resolve("intents-banking77-mpnet").path
    mapping = json.loads((folder / "reason_map.json").read_text())
    head = HeadClassifier(folder, TextEncoder())
    assert head.encoder.model == "mpnet" and head.coef.shape == (77, 768)
    texts = [r["text"] for r in rows]
    preds = head.predict(texts, TextEncoder().encode(texts))
    assert np.mean([p.reason == mapping[r["category"]] for p, r in zip(preds, rows)]) >= 0.9
