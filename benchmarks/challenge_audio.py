"""The challenge set's held-out calls as telephone audio: does the outcome survive the acoustic side?

    .venv/bin/python -m benchmarks.challenge_audio [--limit N] [--out DIR] [--cache DIR]

Takes the ``heldout`` split of ``benchmarks/challenge/calls.txt`` (21 calls), renders each with
the telephone renderer (benchmarks/telephone.py: espeak-ng, one voice per party, 300-3400 Hz,
8 kHz, line noise, G.711 mu-law) as a stereo call, agent left and customer right, and runs the
whole default pipeline (``wocas run``) on the audio, with a manifest giving the channel map and
the customer fields. The same calls also go through as text transcripts (benchmarks/challenge.py).
Per call and in total: shape, satisfaction band, resolution and leavers ranked first from the
AUDIO against the same from the TEXT and against the labels; WER of the customer (and agent)
channel against the script.

Renders go to the cache ($WOCAS_CACHE/challenge-audio-<key>, default ~/.cache/wocas), never into
the project; rendering needs espeak-ng and sox (see benchmarks/telephone.py).
Writes benchmarks/results/challenge_audio.json and challenge_audio.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.challenge import CALLS, ChallengeCall, read_calls, read_run, score
from benchmarks.telephone import INSTALL, missing_tools, plan, render_script

RENDER_VERSION = 1
SEED = 5000  # plan(SEED + position): voices, gaps and noise apart from the telephone calls' (0-19)
LABELS = ("shape", "band", "resolution")


def heldout_calls(limit: int | None = None) -> list[ChallengeCall]:
    calls = [c for c in read_calls(CALLS) if c.split == "heldout"]
    return calls[:limit] if limit else calls


def cache_folder(calls: list[ChallengeCall]) -> Path:
    from benchmarks.telephone import cache_key as telephone_key

    blob = json.dumps([RENDER_VERSION, SEED, telephone_key(), [(c.call_id, c.turns) for c in calls]])
    key = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return Path(os.environ.get("WOCAS_CACHE", "~/.cache/wocas")).expanduser() / f"challenge-audio-{key}"


def render(calls: list[ChallengeCall], folder: Path) -> list[dict]:
    """Each call rendered into ``folder`` (kept: a second run reuses it); returns their labels."""
    if missing := missing_tools():
        raise SystemExit(f"{', '.join(missing)} not found: {INSTALL}")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for position, call in enumerate(calls):
        labels = folder / f"{call.call_id}.json"
        if labels.exists() and (folder / f"{call.call_id}.stereo.wav").exists():
            out.append(json.loads(labels.read_text()))
            continue
        out.append(render_script(call.call_id, call.turns, plan(SEED + position, len(call.turns)), call.split,
                                 folder, SEED + position))
    return out


def write_manifest(calls: list[ChallengeCall], folder: Path, path: Path) -> Path:
    """A ``wocas run`` manifest of the stereo renders: channel map, customer id, time and value."""
    rows = [{"path": str((folder / f"{c.call_id}.stereo.wav").resolve()), "call_id": c.call_id,
             "customer_id": c.customer_id, "started_at": c.started_at, "channels": "agent,customer",
             "customer_value": c.value} for c in calls]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(inputs: Path, out: Path) -> dict[str, dict]:
    """The whole default pipeline on ``inputs``; call_id -> what it said, turns included."""
    from wocas.cli import main as wocas_main

    code = wocas_main(["run", str(inputs), "--out", str(out), "--quiet", "--force"])
    if code not in (0, 1):
        raise RuntimeError(f"wocas run exited {code}")
    return read_run(out, with_turns=True)


def role_text(turns: list | tuple, role: str) -> str:
    return " ".join(text for r, text in turns if r == role)


def compare(calls: list[ChallengeCall], text: dict[str, dict], audio: dict[str, dict]) -> dict:
    """Per call and in total: each label from audio and from text, against each other and the labels;
    channel WER of the audio against the script (and against the text run's redacted turns)."""
    from benchmarks.metrics import wer

    missing = {"shape": None, "band": None, "resolution": None, "risk": None, "turns": []}
    per_call, pairs = {}, {"customer": [], "agent": [], "customer_redacted": []}
    for c in calls:
        a, t = audio.get(c.call_id, missing), text.get(c.call_id, missing)
        row: dict = {"kind": c.labels.get("kind"), "stored": c.call_id in audio}
        for label in LABELS:
            row[label] = {"label": c.labels[label], "text": t[label], "audio": a[label]}
        row["risk"] = {"text": t["risk"], "audio": a["risk"]}
        for role in ("customer", "agent"):
            ref, hyp = role_text(c.turns, role), role_text(a["turns"], role)
            pairs[role].append((ref, hyp))
            row[f"wer_{role}"] = round(wer([(ref, hyp)]), 4)
        # the stored turns are redacted; Whisper's normaliser drops the [TAG]s on both sides
        pairs["customer_redacted"].append((role_text(t["turns"], "customer"), role_text(a["turns"], "customer")))
        row["customer_hyp"] = role_text(a["turns"], "customer")
        per_call[c.call_id] = row
    n = len(calls)
    total: dict = {"calls": n, "stored_from_audio": sum(r["stored"] for r in per_call.values())}
    for label in LABELS:
        rows = [r[label] for r in per_call.values()]
        total[label] = {
            "text_vs_label": round(sum(r["text"] == r["label"] for r in rows) / n, 3),
            "audio_vs_label": round(sum(r["audio"] == r["label"] for r in rows) / n, 3),
            "audio_vs_text": round(sum(r["audio"] == r["text"] for r in rows) / n, 3),
        }
    for arm, said in (("text", text), ("audio", audio)):
        filled = {c.call_id: {**missing, **said.get(c.call_id, {})} for c in calls}
        scored = score(calls, filled).get("heldout", {})
        total[f"leavers_in_top_k_{arm}"] = scored.get("leavers_in_top_k")
        total["leavers"] = scored.get("leavers")
    for key, value in pairs.items():
        total[f"wer_{key}"] = round(wer(value), 4)
    return {"calls": per_call, "total": total}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.challenge import analyse
    from benchmarks.common import write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="the first N held-out calls only (a quick check)")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--cache", type=Path, default=None, help="where the renders go (default: the cache)")
    args = parser.parse_args(argv)
    calls = heldout_calls(args.limit)
    folder = args.cache or cache_folder(calls)
    start = time.perf_counter()
    rendered = render(calls, folder)
    render_s = time.perf_counter() - start
    audio_s = sum(r["duration_s"] for r in rendered)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        analyse(calls, out / "text")
        text_s = time.perf_counter() - start
        text = read_run(out / "text" / "run", with_turns=True)
        start = time.perf_counter()
        audio = run(write_manifest(calls, folder, out / "audio.jsonl"), out / "audio")
        audio_run_s = time.perf_counter() - start
    result = compare(calls, text, audio)
    total = result["total"]
    total.update(audio_s=round(audio_s, 1), render_s=round(render_s, 1), text_run_s=round(text_s, 1),
                 audio_run_s=round(audio_run_s, 1), audio_x_realtime=round(audio_s / audio_run_s, 2),
                 audio_vs_text_time=round(audio_run_s / text_s, 1))
    rows = [{"call": cid, "kind": r["kind"],
             **{label: f"{r[label]['label']} / {r[label]['text']} / {r[label]['audio']}" for label in LABELS},
             "customer WER": r["wer_customer"], "agent WER": r["wer_agent"]} for cid, r in result["calls"].items()]
    rows.append({"call": f"total ({len(calls)})", "kind": "",
                 **{label: f"text {total[label]['text_vs_label']}, audio {total[label]['audio_vs_label']}; "
                    f"audio = text {total[label]['audio_vs_text']}" for label in LABELS},
                 "customer WER": total["wer_customer"], "agent WER": total["wer_agent"]})
    notes = (
        "Held-out split of benchmarks/challenge/calls.txt (labels written before any model ran). Since the "
        "leave-one-writer-out retrain, calls.txt is TRAINING data of the trust heads, so the text arm is "
        "in-sample here (an upper bound); what this table measures is the acoustic side: how often the audio "
        "arm agrees with the text arm, and the WER. "
        "Each call rendered by "
        "benchmarks/telephone.py's renderer (espeak-ng, a voice, speed and level per party, 300-3400 Hz, 8 kHz, "
        "12-24 dB line noise, G.711 mu-law), stereo, agent left and customer right, then the whole default "
        "pipeline (`wocas run`, embedded defaults, ASR profile fast = tiny.en) on the audio with a manifest "
        "giving the channel map; the text arm runs the same calls as transcripts (benchmarks/challenge.py). "
        "Cells are label / from text / from audio; totals are the fraction right (against the label) and the "
        "fraction where audio and text agree. Leavers ranked first (of the k customers labelled leaving, how "
        f"many among the k riskiest): text {total['leavers_in_top_k_text']} of {total['leavers']}, audio "
        f"{total['leavers_in_top_k_audio']} of {total['leavers']}. WER: Whisper's English normaliser + jiwer, "
        "corpus level, each channel against its party's script; the stored turns are redacted (tags dropped by "
        f"the normaliser), so customer WER against the text run's redacted turns is {total['wer_customer_redacted']} "
        f"(against the script {total['wer_customer']}). {total['audio_s'] / 60:.1f} min of audio; the audio run "
        f"took {total['audio_run_s']} s ({total['audio_x_realtime']}x real time), {total['audio_vs_text_time']}x "
        "the text run's time in the same process, on a 2-core machine shared with other jobs (the ratio is the "
        "comparable part). Synthetic voices are cleaner and more regular than people and carry no emotion in the "
        "voice: the acoustic side tested here is the words, the turns and the channel map. The text arm runs "
        "the 21 calls as a batch of their own; it need not match benchmarks/results/challenge.md, which runs "
        "every split together.")
    write_results("challenge_audio", {"calls": len(calls), "render": {"folder_key": folder.name, "seed": SEED,
                                                                      "voices": {r["call"]: r["voices"]
                                                                                 for r in rendered}},
                                      **result}, rows, "Challenge set, held-out calls as telephone audio", notes)
    print(json.dumps(total, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
