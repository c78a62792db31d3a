"""Screening resolution-head inputs out of writer with C fixed at 0.01 (the value every writer chose)."""
import sys, json
from pathlib import Path
import numpy as np
ROOT = Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "scripts"))
import lowo
WORK = __import__("os").environ.get("TRUST_WORK", "/tmp/trust_explore")
chain = lowo.load_chain(lowo.default_sources(), Path(__import__("os").environ["LOWO_CACHE"]))
trust = np.load(f"{WORK}/p_full.npy").astype(np.float32)
records = lowo.with_trust(chain.records0, chain.turns, trust)
stage = chain.stages["resolution"]
X, reads = lowo.resolution_rows(stage, records, "base")
y = np.array([c.labels["resolution"] for c in chain.calls])
enc = chain.encoder

def window(r, k):
    said = [t for t in r.turns if t.text.strip() and t.role in ("agent", "customer")][-k:]
    return " ".join(f"{t.role}: {t.text}" for t in said)

def score(name, Xv):
    pred, _, _, _ = lowo.lowo_classify(lambda c: lowo.logistic(c, balanced=True), (0.01,), Xv, y, chain.writers)
    acc = float(np.mean(pred == y))
    per_w = {str(g): round(float(np.mean(pred[chain.writers == g] == y[chain.writers == g])), 3) for g in np.unique(chain.writers)}
    print(f"{name:34s} resolution {acc:.3f}  mean over writers {np.mean(list(per_w.values())):.3f}", flush=True)
    return acc

score("base", X)
score("+ last turns (agent, customer)", np.hstack([X, lowo.last_turn_vectors(records, enc)]))
for k in (4, 6):
    W = enc.encode([window(r, k) for r in records])
    score(f"+ closing window of {k} turns", np.hstack([X, W]))
