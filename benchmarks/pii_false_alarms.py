"""False-alarm check of the PII detector on unlabelled text: the authored call files.

    .venv/bin/python -m benchmarks.pii_false_alarms [--out /tmp/fa.tsv] [--diff /tmp/fa_before.tsv]

Runs the detector as the redact stage does (``find_pii_in_turns``, names="ner" or ``--names``, the fitted tagger
of ``--tagger``, roles from the ``A:``/``C:`` speakers) over every turn of models/training/trust_calls*.txt and
benchmarks/challenge/calls.txt, heldout2.txt and heldout3.txt. These calls carry almost no real PII
(agents' and customers' names and a few account numbers), so nearly every other prediction is a
false alarm. Prints the count per type; ``--out`` writes every prediction as ``type<TAB>text<TAB>line``
(line = ``file:call:turn<TAB>turn text``); ``--diff`` prints the predictions that are new (and gone)
against an earlier such list, so a change to the detector can be checked for new false alarms.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from benchmarks.challenge import read_calls
from wocas.text.pii import find_pii_in_turns

ROOT = Path(__file__).resolve().parent.parent
CALL_FILES = (sorted((ROOT / "models" / "training").glob("trust_calls*.txt"))
              + [ROOT / "benchmarks" / "challenge" / f for f in ("calls.txt", "heldout2.txt", "heldout3.txt")])


def predictions(files=CALL_FILES, tagger=None, names: str = "ner",
                tagger_types=None) -> list[tuple[str, str, str, str]]:
    """(type, text, where, turn text) for every PII prediction on every turn of the call files."""
    out = []
    for path in files:
        for call in read_calls(path):
            turns = list(call.turns)
            spans = find_pii_in_turns(turns, names=names, roles=[role for role, _ in turns], tagger=tagger,
                                      tagger_types=tagger_types)
            for s in spans:
                where = f"{path.name}:{call.call_id}:{s.turn}"
                out.append((s.type, s.text, where, turns[s.turn][1].replace("\t", " ")))
    return out


def read_list(path: Path) -> list[tuple[str, ...]]:
    return [tuple(line.split("\t")) for line in path.read_text().splitlines() if line]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write every prediction here (TSV)")
    ap.add_argument("--diff", type=Path, help="an earlier --out list: print what is new and what is gone")
    ap.add_argument("--tagger", default="pii-tagger", help="the fitted PII tagger (registry name or folder; '' = rules alone)")
    ap.add_argument("--names", default="ner", choices=("ner", "rules"),
                    help="name detector (rules: where the NER model is not installed)")
    ap.add_argument("--tagger-types", default="",
                    help="comma-separated: add only the tagger's spans of these types ([redact] tagger_types); "
                         "'identifiers' = wocas.text.pii.TAGGER_IDENTIFIER_TYPES; '' = all")
    args = ap.parse_args()
    from wocas.text.pii import TAGGER_IDENTIFIER_TYPES

    types = (TAGGER_IDENTIFIER_TYPES if args.tagger_types == "identifiers"
             else tuple(t for t in args.tagger_types.split(",") if t)) or None
    tagger = None
    if args.tagger:
        from wocas.models.registry import resolve
        from wocas.text.pii_tagger import load_tagger

        tagger = load_tagger(resolve(args.tagger).path)
    preds = predictions(tagger=tagger, names=args.names, tagger_types=types)
    counts = Counter(p[0] for p in preds)
    print(f"{len(preds)} predictions on {len(CALL_FILES)} call files")
    for t, n in counts.most_common():
        print(f"  {t:10s} {n}")
    if args.out:
        args.out.write_text("".join("\t".join(p) + "\n" for p in preds))
    if args.diff:
        before = Counter(read_list(args.diff))
        now = Counter(preds)
        new = now - before
        gone = before - now
        print(f"\nnew against {args.diff}: {sum(new.values())}")
        for t, text, where, line in sorted(new.elements()):
            print(f"  + {t}\t{text!r}\t{where}\t{line}")
        print(f"gone: {sum(gone.values())}")
        for t, text, where, line in sorted(gone.elements()):
            print(f"  - {t}\t{text!r}\t{where}\t{line}")


if __name__ == "__main__":
    main()
