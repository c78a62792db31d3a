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

The recorded-prompt reading: a second logistic regression over the same features (C 1.0, classes
weighted to balance), two thirds of the helpers' recorded prompts (models/training/ivr_prompts*.txt,
``IVR_FILES``) against every live turn above (agents' and customers') and two thirds of live agents'
scripted lines (models/training/live_agent_lines*.txt, ``LIVE_AGENT_FILES``). The agent reading is fitted on exactly the
turns it was fitted on before, so it does not change. Prints the share read as recorded prompts of the
held-out thirds, of the unseen writers' and STC-3's held-out live turns.
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

from benchmarks.roles_multiparty import IVR_FILES, LIVE_AGENT_FILES, ivr_prompt_lines, stc3_holdout_ids  # noqa: E402
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


def _matrix(texts: list[str], index: dict[str, int]):
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for i, text in enumerate(texts):
        for f in turn_features(text):
            if f in index:
                rows.append(i)
                cols.append(index[f])
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(index)))


def fit(turns: list[tuple[str, bool]], prompts: list[tuple[str, bool]] | None = None) -> RoleHead:
    """The agent reading over ``turns`` (text, is the agent's); with ``prompts`` (text, is a recorded prompt),
    also the recorded-prompt reading, over the same features."""
    from sklearn.linear_model import LogisticRegression

    counts = Counter(f for text, _ in turns for f in turn_features(text))
    vocab = sorted(f for f, n in counts.items() if n >= MIN_COUNT)
    index = {f: k for k, f in enumerate(vocab)}
    y = np.array([agent for _, agent in turns], dtype=int)
    model = LogisticRegression(C=C, max_iter=2000).fit(_matrix([t for t, _ in turns], index), y)
    if not prompts:
        return RoleHead(vocab, model.coef_[0], float(model.intercept_[0]))
    is_prompt = np.array([p for _, p in prompts], dtype=int)
    prompt = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(
        _matrix([t for t, _ in prompts], index), is_prompt)
    return RoleHead(vocab, model.coef_[0], float(model.intercept_[0]), prompt.coef_[0], float(prompt.intercept_[0]))


def accuracy(head: RoleHead, turns: list[tuple[str, bool]]) -> float:
    scores = head.turn_log_odds([t for t, _ in turns])
    return float(np.mean([(s > 0) == agent for s, (_, agent) in zip(scores, turns)])) if turns else float("nan")


def prompt_rate(head: RoleHead, texts: list[str]) -> float:
    """The share of ``texts`` the head reads as recorded prompts."""
    return round(float(np.mean(head.prompt_log_odds(texts) > 0)), 4) if texts else float("nan")


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
    recorded = [text for name in IVR_FILES for text in ivr_prompt_lines(held_out=False, name=name)]
    scripted = [text for name in LIVE_AGENT_FILES for text in ivr_prompt_lines(held_out=False, name=name)]
    live = [text for text, _ in written + stc3] + scripted
    head = fit(written + stc3 + ivr, [(t, True) for t in recorded] + [(t, False) for t in live])
    unseen = [ROOT / "benchmarks" / "challenge" / f"{name}.txt" for name in UNSEEN]
    unseen_turns = written_turns(unseen)
    stc3_held = stc3_turns(args.data, held_out=True)
    report = {"training_turns": {"written": len(written), "stc3": len(stc3), "ivr": len(ivr)},
              "features": len(head.index),
              "turn_accuracy": {"training": round(accuracy(head, written + stc3 + ivr), 4),
                                "ivr_held_out": round(accuracy(head, [(t, True) for t in ivr_prompt_lines(held_out=True)]), 4),
                                "stc3_held_out": round(accuracy(head, stc3_held), 4),
                                "unseen_writers": round(accuracy(head, unseen_turns), 4)},
              "prompt_training_lines": {"recorded": len(recorded), "live": len(live), "live_scripted": len(scripted)},
              "read_as_recorded_prompt": {"training_live": prompt_rate(head, live),
                                          "training_recorded": prompt_rate(head, recorded),
                                          **{f"held_out {name}": prompt_rate(head, ivr_prompt_lines(True, name))
                                             for name in IVR_FILES + LIVE_AGENT_FILES},
                                          "stc3_held_out_live": prompt_rate(head, [t for t, _ in stc3_held]),
                                          "unseen_writers_live": prompt_rate(head, [t for t, _ in unseen_turns])},
              "unseen_writer_files": [p.name for p in unseen]}
    print(json.dumps(report, indent=1))
    if args.write:
        save_role_head(args.write, list(head.index), head.weights, head.bias,
                       {"C": C, "min_count": MIN_COUNT, "prompt_class_weight": "balanced", "training": report,
                        "sources": [p.name for p in sources] + ["stc3 train_data_en less holdout_ids",
                                                                "ivr_prompts.txt less every third line",
                                                                "prompt reading: " + ", ".join(IVR_FILES + LIVE_AGENT_FILES)
                                                                + " less every third line"]},
                       head.prompt_weights, head.prompt_bias)
        pin_registry(REGISTRY_NAME, args.write)
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
