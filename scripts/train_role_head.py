"""Fit the role head: each turn's log-odds of being the agent's, from its words (engine/text/role_head.py).

    .venv/bin/python scripts/train_role_head.py [--data ../shared/data] [--write models/role-head]

Training turns (every turn's speaker is known):
- the team's written calls (``lowo.default_sources()``: benchmarks/challenge/calls.txt, heldout2-8 and
  models/training/trust_calls*.txt; ours, Apache-2.0), less heldout9-15 (``UNSEEN``), which stay unseen
  writers for benchmarks/roles_multiparty.py; heldout16 and later are never read here;
- STC-3's English customer-helpdesk dialogues (CC BY 4.0), less the dialogues the satisfaction model holds
  out (``holdout_ids`` in models/satisfaction/model.json), which are the role benchmark's real test;
- two thirds of models/training/ivr_prompts.txt (recorded phone-system messages, ours), as agent-side turns:
  an IVR prompt that forms a speaker of its own belongs with the agent, not the customer. Every third line
  (``benchmarks.roles_multiparty.ivr_prompt_lines(held_out=True)``) is left out for the benchmark.

A logistic regression (scikit-learn, C 1.0, features seen in at least 3 training turns; both fixed before
the first fit, nothing chosen on a test set) over binary word, word-pair and length features. Prints the
per-turn accuracy on the held-out STC-3 dialogues and the unseen writers; ``--write`` saves the head and
rewrites its sha256 pins in models/registry.toml.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchmarks.roles_multiparty import ivr_prompt_lines, stc3_holdout_ids  # noqa: E402
from wocas.text.role_head import RoleHead, save_role_head, turn_features  # noqa: E402

C = 1.0
MIN_COUNT = 3
REGISTRY_NAME = "role-head"
UNSEEN = tuple(f"heldout{k}" for k in range(9, 16))  # the role benchmark's unseen writers
LATER = ("heldout16", "heldout17")  # joined the trust chain after the role head was fitted; not read here


def written_turns(paths: list[Path]) -> list[tuple[str, bool]]:
    from benchmarks.challenge import read_calls

    return [(text, who == "agent") for p in paths for c in read_calls(p) for who, text in c.turns if text.strip()]


def stc3_turns(data: Path, held_out: bool) -> list[tuple[str, bool]]:
    ids = stc3_holdout_ids()
    out = []
    for path in sorted(data.rglob("*_data_en.json")):
        for d in json.loads(path.read_text()):
            if (str(d["id"]) in ids) != held_out:
                continue
            out += [(" ".join(t["utterances"]), t["sender"] != "customer") for t in d["turns"]]
    return out


def fit(turns: list[tuple[str, bool]]) -> RoleHead:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    feats = [turn_features(text) for text, _ in turns]
    counts = Counter(f for fs in feats for f in fs)
    vocab = sorted(f for f, n in counts.items() if n >= MIN_COUNT)
    index = {f: k for k, f in enumerate(vocab)}
    rows, cols = [], []
    for i, fs in enumerate(feats):
        for f in fs:
            if f in index:
                rows.append(i)
                cols.append(index[f])
    x = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(turns), len(vocab)))
    y = np.array([agent for _, agent in turns], dtype=int)
    model = LogisticRegression(C=C, max_iter=2000).fit(x, y)
    return RoleHead(vocab, model.coef_[0], float(model.intercept_[0]))


def accuracy(head: RoleHead, turns: list[tuple[str, bool]]) -> float:
    scores = head.turn_log_odds([t for t, _ in turns])
    return float(np.mean([(s > 0) == agent for s, (_, agent) in zip(scores, turns)])) if turns else float("nan")


def main(argv: list[str] | None = None) -> int:
    from lowo import default_sources
    from train_resolution import pin_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    sources = [p for p in default_sources() if p.stem not in UNSEEN + LATER]
    written = written_turns(sources)
    stc3 = stc3_turns(args.data, held_out=False)
    if not stc3:
        raise SystemExit(f"no STC-3 file (*_data_en.json) under {args.data}")
    ivr = [(text, True) for text in ivr_prompt_lines(held_out=False)]
    head = fit(written + stc3 + ivr)
    unseen = [ROOT / "benchmarks" / "challenge" / f"{name}.txt" for name in UNSEEN]
    report = {"training_turns": {"written": len(written), "stc3": len(stc3), "ivr": len(ivr)},
              "features": len(head.index),
              "turn_accuracy": {"training": round(accuracy(head, written + stc3 + ivr), 4),
                                "ivr_held_out": round(accuracy(head, [(t, True) for t in ivr_prompt_lines(held_out=True)]), 4),
                                "stc3_held_out": round(accuracy(head, stc3_turns(args.data, held_out=True)), 4),
                                "unseen_writers": round(accuracy(head, written_turns(unseen)), 4)},
              "unseen_writer_files": [p.name for p in unseen]}
    print(json.dumps(report, indent=1))
    if args.write:
        save_role_head(args.write, list(head.index), head.weights, head.bias,
                       {"C": C, "min_count": MIN_COUNT, "training": report,
                        "sources": [p.name for p in sources] + ["stc3 train_data_en less holdout_ids",
                                                                "ivr_prompts.txt less every third line"]})
        pin_registry(REGISTRY_NAME, args.write)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
