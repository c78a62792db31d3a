"""Where the telephone benchmark's word errors are: each stereo channel's ASR words are put
back on the reference turns by time, each turn is aligned with jiwer (after the same Whisper
English normaliser as the WER), and its errors are sorted into:

- missing turn: the turn got no word at all (the VAD dropped it, or Whisper returned nothing);
- onset / tail lost: a run of deletions at the turn's start / end (the turn otherwise heard);
- deletions elsewhere, substitutions, insertions inside a turn;
- outside: hypothesis words that fall in no turn of their speaker (+-0.5 s): hallucinations
  in silence or noise.

Reads the raw worker outputs that benchmarks/telephone_lines.py keeps (stereo words with times).

    python -m benchmarks.telephone_errors RAW.json [RAW.json ...] [--examples N]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

SLACK_S = 0.5


def assign(words: list, turns: list[dict], slack: float = SLACK_S) -> tuple[list[list[str]], list[str]]:
    """Each word (text, start, end) to the turn whose [start - slack, end + slack] holds its
    midpoint (the nearest such turn), else to the words outside every turn."""
    per_turn: list[list[str]] = [[] for _ in turns]
    outside: list[str] = []
    for text, start, end in words:
        mid = (start + end) / 2
        best, gap = None, None
        for i, t in enumerate(turns):
            if t["start"] - slack <= mid <= t["end"] + slack:
                d = 0.0 if t["start"] <= mid <= t["end"] else min(abs(mid - t["start"]), abs(mid - t["end"]))
                if gap is None or d < gap:
                    best, gap = i, d
        (per_turn[best] if best is not None else outside).append(text)
    return per_turn, outside


def turn_errors(ref: str, hyp: str) -> dict:
    """Counts for one turn (normalised texts): ref words, S, I, and D split into onset / tail / mid,
    or all of them as missing when the hypothesis is empty; plus the substituted pairs."""
    import jiwer

    out = Counter()
    pairs: list[tuple[str, str]] = []
    ref_words = ref.split()
    out["ref"] = len(ref_words)
    if not ref_words:
        out["I"] += len(hyp.split())
        return {"counts": out, "pairs": pairs}
    if not hyp.split():
        out["D_missing"] += len(ref_words)
        out["missing_turns"] += 1
        return {"counts": out, "pairs": pairs}
    chunks = jiwer.process_words(ref, hyp).alignments[0]
    hyp_words = hyp.split()
    for k, c in enumerate(chunks):
        n_ref, n_hyp = c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx
        if c.type == "delete":
            where = "D_onset" if k == 0 else "D_tail" if k == len(chunks) - 1 else "D_mid"
            out[where] += n_ref
        elif c.type == "substitute":
            out["S"] += n_ref
            pairs += list(zip(ref_words[c.ref_start_idx:c.ref_end_idx], hyp_words[c.hyp_start_idx:c.hyp_end_idx]))
        elif c.type == "insert":
            out["I"] += n_hyp
    return {"counts": out, "pairs": pairs}


def analyse(raw: dict, labels: dict[str, dict]) -> dict:
    """Totals over every call and channel of one worker output, the top substitutions, and the
    calls' missing turns."""
    from benchmarks.metrics import normalise

    totals, subs, missing = Counter(), Counter(), []
    for name, row in raw["calls"].items():
        call = labels[name]
        for speaker in call["channels"]:
            turns = [t for t in call["turns"] if t["speaker"] == speaker]
            per_turn, outside = assign(row.get(f"stereo_{speaker}_words", []), turns)
            totals["I_outside"] += len(normalise(" ".join(outside)).split())
            for t, words in zip(turns, per_turn):
                found = turn_errors(normalise(t["text"]), normalise(" ".join(words)))
                totals.update(found["counts"])
                subs.update(found["pairs"])
                if found["counts"]["missing_turns"]:
                    missing.append(f"{name}/{speaker}: {t['text'][:60]}")
    errors = sum(v for k, v in totals.items() if k[0] in "DSI")
    return {"totals": dict(totals), "errors": errors, "wer_by_turn": round(errors / max(1, totals["ref"]), 4),
            "share": {k: round(v / max(1, errors), 3) for k, v in sorted(totals.items()) if k[0] in "DSI"},
            "top_substitutions": [f"{r}->{h} x{n}" for (r, h), n in subs.most_common(25)],
            "missing": missing}


def main() -> None:
    from benchmarks import telephone

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="+", type=Path)
    parser.add_argument("--examples", type=int, default=0, help="print N calls' reference and hypothesis")
    args = parser.parse_args()
    for path in args.raw:
        raw = json.loads(path.read_text())
        labels = {c["call"]: c for c in telephone.load_calls(telephone.default_cache(raw.get("line", "telephone")))}
        found = analyse(raw, labels)
        print(path.name, json.dumps({k: v for k, v in found.items() if k != "missing"}, indent=1))
        print("missing turns:", len(found["missing"]), *found["missing"][:15], sep="\n  ")
        for name in list(raw["calls"])[: args.examples]:
            for speaker in labels[name]["channels"]:
                print(f"--- {name} {speaker}\nREF: {telephone.reference_text(labels[name], speaker)}\n"
                      f"HYP: {raw['calls'][name][f'stereo_{speaker}_hyp']}")


if __name__ == "__main__":
    main()
