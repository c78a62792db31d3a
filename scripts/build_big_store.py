"""Build a synthetic store of N analysed calls (default 100,000) for the insights benchmark.

The rows are written straight into the store's tables with numpy + pyarrow (no pipeline
runs): 13 weeks of calls from a skewed customer base (a few heavy users, many light ones),
reasons drawn from the real taxonomy with its owners and preventable flags, trust openings
and closings with their shapes, predicted satisfaction, handle times, defection signals,
four turns per call, and two things the early warning must find: a spike of late deliveries
over the last three days and a new unmatched complaint (smart meters beeping) growing night
over night. Also writes an outcomes CSV (churn drawn from the stored risk factors).

    .venv/bin/python scripts/build_big_store.py --out /tmp/big --calls 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from wocas.reasons.taxonomy import load_taxonomy
from wocas.store import Store

START = datetime(2026, 1, 5)
DAYS = 91
SPIKE_REASON, SPIKE_DAYS, SPIKE_FACTOR = "delivery_late_or_missing", 3, 4.0
EMERGING = ["the smart meter you installed keeps beeping all night", "my new smart meter won't stop beeping",
            "smart meter beeping every few minutes", "why does the smart meter make a beeping noise"]
OTHER = ["I just had a general question", "I wanted to ask about something else", "it's about my neighbour's post",
         "I'm not sure who to talk to"]
SHAPES = np.array(["recovered", "deteriorated", "steady-positive", "steady-negative", "volatile"])
SIGNALS = np.array(["complaint", "cancel_intent", "competitor", "threat_to_leave", "repeat_contact",
                    "escalation_request", "sale_on_low_trust", "unresolved_end"])


def build(out: Path, n_calls: int, seed: int = 7, rollup: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    taxonomy = load_taxonomy("contact-reasons")
    reasons = taxonomy.reasons
    n_customers = max(10, n_calls // 3)
    # Zipf-like contact rates: a few customers call a lot, most call once or twice.
    weights = 1.0 / np.arange(1, n_customers + 1) ** 0.6
    customer = rng.choice(n_customers, size=n_calls, p=weights / weights.sum())
    day = rng.integers(0, DAYS, size=n_calls)
    reason_p = rng.dirichlet(np.ones(len(reasons)) * 2.0)
    reason_idx = rng.choice(len(reasons), size=n_calls, p=reason_p)
    spike_idx = [r.id for r in reasons].index(SPIKE_REASON)
    # The spike: extra late-delivery calls on the last days.
    extra = int(reason_p[spike_idx] * n_calls / DAYS * (SPIKE_FACTOR - 1) * SPIKE_DAYS)
    if extra:
        pick = rng.choice(n_calls, size=extra, replace=False)
        reason_idx[pick] = spike_idx
        day[pick] = rng.integers(DAYS - SPIKE_DAYS, DAYS, size=extra)
    seconds = rng.integers(8 * 3600, 20 * 3600, size=n_calls)
    started = [(START + timedelta(days=int(d), seconds=int(s))).isoformat() for d, s in zip(day, seconds)]
    opening = np.clip(rng.normal(-0.1, 0.45, n_calls), -1, 1)
    closing = np.clip(opening + rng.normal(0.25, 0.4, n_calls), -1, 1)
    turnaround = closing - opening
    shape = np.where(turnaround >= 0.3, 0, np.where(turnaround <= -0.3, 1, np.where(closing >= 0, 2, 3)))
    shape = np.where(rng.random(n_calls) < 0.05, 4, shape)
    p_sat = 1 / (1 + np.exp(-(2.5 * closing + rng.normal(0, 0.5, n_calls))))
    handle = np.round(rng.lognormal(np.log(300), 0.5, n_calls), 1)
    value = np.round(rng.lognormal(np.log(400), 0.8, n_customers), 2)
    statements = [reasons[i].examples[j % len(reasons[i].examples)] for i, j in
                  zip(reason_idx, rng.integers(0, 1000, n_calls))]
    reason_ids = [reasons[i].id for i in reason_idx]
    # 3% of calls matched no reason; a new one (smart meters) grows over the last three nights.
    other = rng.random(n_calls) < 0.03
    for i in np.flatnonzero(other):
        reason_ids[i], statements[i] = "other", OTHER[i % len(OTHER)]
    last_nights = np.flatnonzero(~other & (day >= DAYS - 3) & (reason_idx != spike_idx))
    n_new = 0
    for night, count in ((DAYS - 3, 3), (DAYS - 2, 8), (DAYS - 1, 20)):
        chosen = [i for i in last_nights if day[i] == night][:count]
        for i in chosen:
            reason_ids[i], statements[i] = "other", EMERGING[n_new % len(EMERGING)]
            n_new += 1
    by_id = taxonomy.by_id
    preventable = np.array([bool(by_id[r].preventable) if r in by_id else False for r in reason_ids])
    owners = [by_id[r].owner if r in by_id else None for r in reason_ids]
    call_ids = [f"call-{i:07d}" for i in range(n_calls)]
    customer_ids = [f"C{c:06d}" for c in customer]
    calls = pa.table({
        "call_id": call_ids, "content_hash": call_ids, "pipeline_version": ["synthetic"] * n_calls,
        "run_id": ["synthetic"] * n_calls, "status": ["ok"] * n_calls, "kind": ["transcript"] * n_calls,
        "source": ["synthetic"] * n_calls, "customer_id": customer_ids,
        "agent_id": [f"A{a:03d}" for a in rng.integers(0, 250, n_calls)], "started_at": started,
        "duration": handle, "handle_time": handle, "n_turns": np.full(n_calls, 4, dtype=np.int32),
        "trust_opening": opening.round(3), "trust_closing": closing.round(3), "turnaround": turnaround.round(3),
        "trajectory_shape": SHAPES[shape], "contact_reason": reason_ids, "preventable": preventable,
        "satisfaction_score": np.round(1 + 4 * p_sat, 2), "p_satisfied": p_sat.round(4),
        "metadata": [json.dumps({"customer_value": float(value[c]), "queue": "general"}) for c in customer],
    })
    jobs = pa.table({
        "call_id": call_ids, "idx": np.zeros(n_calls, dtype=np.int32), "statement": statements,
        "phrase": statements, "reason": reason_ids, "reason_confidence": rng.uniform(0.4, 1.0, n_calls).round(3),
        "preventable": preventable, "owner": owners, "turn_idx": np.ones(n_calls, dtype=np.int32),
    })
    # Signals: more (and more defection kinds) on calls that end badly.
    has_signal = rng.random(n_calls) < np.where(closing < 0, 0.45, 0.08)
    sig_rows = np.flatnonzero(has_signal)
    kind_p = np.array([0.35, 0.15, 0.08, 0.1, 0.12, 0.08, 0.04, 0.08])
    signals = pa.table({
        "call_id": [call_ids[i] for i in sig_rows], "idx": np.zeros(len(sig_rows), dtype=np.int32),
        "kind": SIGNALS[rng.choice(len(SIGNALS), size=len(sig_rows), p=kind_p)],
        "strength": rng.uniform(0.5, 1.0, len(sig_rows)).round(3), "turn_idx": np.ones(len(sig_rows), dtype=np.int32),
        "quote": [statements[i] for i in sig_rows],
    })
    texts = ["Hello, how can I help?", None, "Let me look into that for you.", None]
    turn_text, turn_role, turn_call, turn_idx, turn_trust = [], [], [], [], []
    for i in range(n_calls):
        for k in range(4):
            turn_call.append(call_ids[i])
            turn_idx.append(k)
            turn_role.append("agent" if k % 2 == 0 else "customer")
            turn_text.append(texts[k] or (statements[i] if k == 1 else
                                          ("Thanks, that's sorted." if closing[i] >= 0 else "This is not good enough.")))
            turn_trust.append(float(opening[i] if k == 1 else closing[i] if k == 3 else 0.2))
    turns = pa.table({"call_id": turn_call, "idx": pa.array(turn_idx, pa.int32()), "role": turn_role,
                      "speaker": turn_role, "text": turn_text, "trust": turn_trust})

    out.mkdir(parents=True, exist_ok=True)
    path = out / "wocas.duckdb"
    if path.exists():
        path.unlink()
    with Store(path) as store:
        for name, table in (("calls", calls), ("jobs", jobs), ("signals", signals), ("turns", turns)):
            store.append_arrow(name, table)
        store.execute("UPDATE calls SET processed_at = now()::TIMESTAMP")
        if rollup:
            from wocas.analytics.customers import rollup as rollup_customers

            t0 = time.perf_counter()
            rollup_customers(store)
            print(f"customers roll-up: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        # Outcomes: churn drawn from the stored risk, the last call's shape and noise.
        rows = store.query("""
            SELECT cu.customer_id, cu.defection_risk AS risk,
                   arg_max(c.trajectory_shape, c.started_at) AS last_shape
            FROM customers cu JOIN calls c USING (customer_id) GROUP BY ALL ORDER BY cu.customer_id""") if rollup else []
    outcomes = out / "outcomes.csv"
    with outcomes.open("w") as f:
        f.write("customer_id,outcome,date\n")
        for r in rows:
            p = 0.05 + 0.5 * (r["risk"] or 0) + (0.1 if r["last_shape"] == "deteriorated" else 0) \
                - (0.05 if r["last_shape"] == "recovered" else 0)
            f.write(f"{r['customer_id']},{'churned' if rng.random() < p else 'retained'},2026-06-01\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for wocas.duckdb and outcomes.csv")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-rollup", action="store_true", help="skip the customers roll-up (and outcomes)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    path = build(args.out, args.calls, args.seed, rollup=not args.no_rollup)
    print(f"{path}: {args.calls} calls in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
