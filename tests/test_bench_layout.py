"""Every suite scores a data folder of the documented layout (benchmarks/README.md) whose files
have names the suites have never seen: a few shared files, linked under new names in a temp
folder, with small subsets so the whole check takes a few minutes on a shared CPU."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)
    return dst


def build_folder(data: Path, out: Path) -> Path:
    """A small data folder in the documented layout, every file renamed."""
    # ASR: LJ Speech layout (id|text), two clips renamed
    lj = data / "asr/ljspeech_coqui"
    meta = dict(line.split("|", 1) for line in (lj / "metadata.csv").read_text().splitlines()[1:3])
    lines = []
    for i, (stem, text) in enumerate(meta.items()):
        link(lj / f"{stem}.flac", out / "speech_a" / f"utt{i}.flac")
        lines.append(f"utt{i}|{text}")
    (out / "speech_a/metadata.csv").write_text("\n".join(lines) + "\n")
    # ASR: a reference transcript beside the audio
    with open(data / "asr/faster_whisper/transcripts.tsv") as f:
        jfk = next(r for r in csv.DictReader(f, delimiter="\t") if r["file"] == "jfk.flac")
    link(data / "asr/faster_whisper/jfk.flac", out / "speech_b/speech42.flac")
    (out / "speech_b/speech42.txt").write_text(jfk["reference_text"])
    # Diarization: RTTM + audio, URI renamed
    rttm = (data / "diarization/pyannote_sample/sample.rttm").read_text().replace(" sample ", " phonecall7 ")
    (out / "meetings").mkdir()
    (out / "meetings/phonecall7.rttm").write_text(rttm)
    link(data / "diarization/pyannote_sample/sample.wav", out / "meetings/phonecall7.wav")
    # Roles: a reference turn file beside the call it describes
    link(data / "calls_synthetic/dialogue_60s_stereo16k.flac", out / "calls/order9_stereo.flac")
    link(data / "calls_synthetic/dialogue_truth.json", out / "calls/order9_truth.json")
    # Emotion: acted speech (two actors' clips of each kind), arousal-rated speech, GoEmotions, MELD
    rav = data / "emotion/ravdess_subset"
    with open(rav / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r["actor"] in ("01", "02") and r["emotion"] in ("neutral", "angry", "sad")
            and r["intensity"] == "normal"][:12]
    (out / "acted").mkdir()
    with open(out / "acted/labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, r in enumerate(keep):
            new = f"clip{i:02d}.wav"
            link(rav / r["file"], out / "acted" / new)
            writer.writerow({**r, "file": new})
    pa = data / "emotion/pyaudioanalysis_speechEmotion"
    with open(pa / "labels.csv") as f:
        prow = list(csv.DictReader(f))[:6]
    (out / "rated").mkdir()
    (out / "rated/labels.csv").write_text("file,arousal,valence\n" + "".join(
        f"r{i}.wav,{r['arousal']},{r['valence']}\n" for i, r in enumerate(prow)))
    for i, r in enumerate(prow):
        link(pa / r["file"], out / "rated" / f"r{i}.wav")
    for split in ("test", "dev"):
        (out / "goemotions_mini").mkdir(exist_ok=True)
        lines = (data / f"text/goemotions/{split}.tsv").read_text().splitlines()[:60]
        (out / f"goemotions_mini/{split}.tsv").write_text("\n".join(lines) + "\n")
    meld = (data / "text/meld/test_sent_emo.csv").read_text(encoding="utf-8").splitlines()
    (out / "sentiment").mkdir()
    (out / "sentiment/test_sent_emo.csv").write_text("\n".join(meld[:40]) + "\n", encoding="utf-8")
    # Intents: CLINC150 layout, 10 intents
    full = json.loads((data / "text/clinc150/data_full.json").read_text())
    intents = sorted({y for _, y in full["train"]})[:10]
    small = {k: ([x for x in v if x[1] in intents] if not k.startswith("oos") else v[:20]) for k, v in full.items()}
    (out / "clinc150_mini").mkdir()
    (out / "clinc150_mini/data_full.json").write_text(json.dumps(small))
    # Satisfaction: STC-3 layout and a User Satisfaction Simulation file
    stc = json.loads((data / "text/stc3_customer_helpdesk/train_data_en.json").read_text())
    (out / "helpdesk").mkdir()
    (out / "helpdesk/new_data_en.json").write_text(json.dumps(stc[:12]))
    uss = (data / "text/user_satisfaction_simulation/MWOZ.txt").read_text().split("\n\n")
    (out / "rated_dialogues").mkdir()
    (out / "rated_dialogues/shop.txt").write_text("\n\n".join(uss[:30]) + "\n")
    return out


def run_suite(module: str, *args: str, results: Path) -> dict:
    env = {**os.environ, "WOCAS_RESULTS_DIR": str(results)}
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((results / f"{'spine' if module == 'spine' else module}.json").read_text())


@pytest.mark.slow
def test_every_suite_scores_renamed_files(tmp_path, data_dir):
    folder = build_folder(data_dir, tmp_path / "data")
    res = tmp_path / "results"
    common = ["--data", str(folder)]

    asr = run_suite("asr", *common, results=res)
    assert set(asr["sets"]) == {"speech_a", "speech_b", "acted"}  # acted: RAVDESS statements
    assert all(0.0 <= s["wer"] < 0.5 for s in asr["sets"].values())
    assert asr["models"][0]["name"] == "tiny.en" and asr["models"][0]["path"]

    diar = run_suite("diarization", *common, "--reps", "1", "--no-asr", results=res)
    assert [r["file"] for r in diar["files"]] == ["meetings/phonecall7", "meetings/phonecall7/est"]
    assert diar["files"][0]["der_c0.25"] < 0.5

    roles = run_suite("roles", *common, "--max-dialogues", "5", results=res)
    assert "calls/order9_stereo" in roles["results"] and "stc3/new_data_en" in roles["results"]
    assert roles["results"]["calls/order9_stereo"]["turn_accuracy"] > 0.8

    sat = run_suite("satisfaction", *common, "--no-stages", results=res)
    assert sat["stc3_new_data_en_other_text_model"]["n"] + sat.get("stc3_new_data_en_text_model", {}).get("n", 0) == 12
    assert sat["uss_shop_text_model"]["n"] == 30

    pii = run_suite("pii", *common, "--out", str(res), results=res)
    assert pii["overall"]["recall"] > 0.5  # no labelled lines in the folder: the project's own are scored

    intents = run_suite("intents", *common, "--only", "clinc150", "--out", str(res), results=res)
    assert intents["clinc150"]["n_test"] == 200 and "skipped" not in intents["clinc150"]

    emo = run_suite("emotion", *common, "--out", str(res), "--repeats", "1", "--max-items", "40", results=res)
    assert emo["goemotions"]["n"] == 40 and 0.0 <= emo["ravdess"]["roc_auc_high_vs_low"] <= 1.0
    assert emo["meld"]["n"] == 39 and emo["pyaudioanalysis"]["n"] == 6
    assert "skipped" not in emo["calls"]


def test_a_missing_set_skips_with_a_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = tmp_path / "results"
    asr = run_suite("asr", "--data", str(empty), results=res)
    assert "no audio with reference text" in asr["skipped"]
    sat = run_suite("satisfaction", "--data", str(empty), "--no-stages", results=res)
    assert set(sat["skipped"]) == {"stc3", "uss"}
