"""Agent/customer role accuracy: on calls (audio through the whole spine) and on real
customer-helpdesk dialogues whose speaker labels are hidden.

- calls: calls_synthetic (stereo without a channel map, mono) and the bundled samples
  (without their channel map): share of reference turns whose midpoint lands in a turn of
  the right role.
- stc3: STC-3 customer-helpdesk dialogues (real text, translated Weibo threads; the role head is fitted on
  the ones the satisfaction model does not hold out, so only the held-out ones are a test), USS's MWOZ and
  SGD user/system dialogues (evaluation only) and the ABCD sample chats, speakers renamed S1/S2: share of
  dialogues whose roles come out right.

    .venv/bin/python -m benchmarks.roles [--data ../shared/data] [--config my.toml]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, ROOT, load_bench_config, models_used, write_results


def accuracy_by_time(call, truth: list[dict], names: dict[str, str]) -> float:
    right = 0
    for ref in truth:
        mid = (ref["start"] + ref["end"]) / 2
        hit = [t for t in call.turns if t.start - 0.3 <= mid <= t.end + 0.3]
        right += bool(hit) and hit[0].role == names[ref["speaker"]]
    return right / len(truth)


def hidden_label_dialogues(data: Path) -> dict[str, list[list[tuple[str, str]]]]:
    """set -> dialogues as [(true role, text)]: STC-3 files (``*_data_en.json``) and ABCD files
    (``abcd*.json``) found under ``data``."""
    dialogues: dict[str, list] = {}
    from benchmarks.roles_multiparty import stc3_holdout_ids

    held = stc3_holdout_ids()
    for path in sorted(data.rglob("*_data_en.json")):
        stc = json.loads(path.read_text())
        # the dialogues the role head never read keep the set's own name; the rest are its training data
        for name, keep in ((f"stc3/{path.stem}", True), (f"stc3/{path.stem}, the role head's training dialogues", False)):
            dialogues[name] = [
                [("customer" if t["sender"] == "customer" else "agent", " ".join(t["utterances"])) for t in d["turns"]]
                for d in stc if (str(d["id"]) in held) == keep]
    from benchmarks.satisfaction import find_uss, load_uss

    for path in find_uss(data):  # user / system dialogues: evaluation only
        if path.stem in ("MWOZ", "SGD"):
            dialogues[f"uss/{path.stem}"] = [[("customer" if who == "customer" else "agent", text)
                                              for who, text in d.turns] for d in load_uss(path)[0]]
    for path in sorted(data.rglob("abcd*.json")):
        abcd = json.loads(path.read_text())
        items = abcd if isinstance(abcd, list) else next(iter(abcd.values()))
        found = [[(("agent" if spk == "agent" else "customer"), text)
                  for spk, text in d.get("original", []) if spk in ("agent", "customer")]
                 for d in items if isinstance(d, dict)]
        if any(found):
            dialogues[f"abcd/{path.stem}"] = [d for d in found if d]
    return dialogues


AUDIO = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")


def truth_calls(data: Path) -> list[tuple[str, Path, list[dict], dict[str, str]]]:
    """(name, audio, reference turns, speaker -> role) for every ``<uri>_truth.json`` (a list of
    {speaker, start, end}) beside audio named ``<uri>_*``. Speakers named agent/customer are
    roles; other labels map in order of first appearance: the first is the agent."""
    out = []
    for truth_file in sorted(data.rglob("*_truth.json")):
        truth = json.loads(truth_file.read_text())
        if not isinstance(truth, list) or not truth or "speaker" not in truth[0]:
            continue
        uri = truth_file.stem.removesuffix("_truth")
        order = list(dict.fromkeys(t["speaker"] for t in truth))
        names = ({s: s for s in order} if set(order) <= {"agent", "customer"}
                 else dict(zip(order, ("agent", "customer"))))
        for audio in sorted(p for p in truth_file.parent.glob(f"{uri}_*") if p.suffix.lower() in AUDIO):
            out.append((f"{truth_file.parent.name}/{audio.stem}", audio, truth, names))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--max-dialogues", type=int, help="score only the first N dialogues of each text set")
    args = parser.parse_args()

    from wocas.io.ingest import iter_calls, transcript_to_call
    from wocas.pipeline import Pipeline
    from wocas.stages.roles import RolesStage

    config = load_bench_config(args.config, {k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact")})
    pipeline = Pipeline.from_config(config)
    rows, results = [], {}
    sample_truth = json.loads((ROOT / "samples/truth.json").read_text())
    calls = truth_calls(args.data) + [  # the project's own samples are always there
        ("sample billing stereo 8k (no map)", ROOT / "samples/billing-stereo-8k.flac",
         sample_truth["billing-stereo-8k"], {"agent": "agent", "customer": "customer"}),
        ("sample delivery mono", ROOT / "samples/delivery-mono-16k.flac",
         sample_truth["delivery-mono-16k"], {"agent": "agent", "customer": "customer"}),
    ]
    for name, path, truth, names in calls:
        call = pipeline.process(list(iter_calls([str(path)])))[0]
        acc = accuracy_by_time(call, truth, names)
        results[name] = {"turn_accuracy": acc, "confidence": call.role_confidence}
        rows.append({"set": name, "items": len(truth), "accuracy": acc, "mean confidence": call.role_confidence})

    stage = RolesStage(config.roles)
    for set_name, dialogues in hidden_label_dialogues(args.data).items():
        dialogues = dialogues[:args.max_dialogues] if args.max_dialogues else dialogues
        if not dialogues:
            continue
        right = decided = 0
        confidences = []
        for i, dialogue in enumerate(dialogues):
            speakers = {}
            turns = []
            for role, text in dialogue:
                label = speakers.setdefault(role, f"S{len(speakers) + 1}")
                turns.append({"speaker": label, "text": text})
            call = stage.process_call(transcript_to_call({"call_id": f"{set_name}-{i}", "turns": turns}, set_name, "x"))
            truth = {label: role for role, label in speakers.items()}
            if all(r != "unknown" for r in call.roles.values()):
                decided += 1
                right += all(call.roles.get(label) == role for label, role in truth.items())
            confidences.append(call.role_confidence)
        n = len(dialogues)
        results[set_name] = {"dialogues": n, "accuracy": right / n, "decided": decided / n,
                             "accuracy_when_decided": right / decided if decided else None}
        rows.append({"set": f"{set_name} (labels hidden)", "items": n, "accuracy": right / n,
                     "mean confidence": sum(confidences) / n})
    write_results("roles", {"models": models_used(config, (("asr", "model"), ("text_encoder", "model"))), "results": results}, rows, "Agent / customer roles",
                  "Calls: share of reference turns whose midpoint falls in a turn of the right role. "
                  "Dialogues: share with every speaker's role right (undecided = wrong).")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
