"""ordinal_closing chain with injected per-turn readings, the resolution level memoised on disk (keyed on the
readings), and optional extra shape columns (trajectory thirds)."""
import sys, json, hashlib, pickle
from pathlib import Path
import numpy as np
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "scripts"))
import lowo
WORK = __import__("os").environ.get("TRUST_WORK", "/tmp/trust_explore")
tag, readings, extra = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
chain = lowo.load_chain(lowo.default_sources(), Path(__import__("os").environ["LOWO_CACHE"]))
target, what, options = lowo.CANDIDATES["ordinal_closing"]
trust = np.load(readings).astype(np.float32)
chain.context_memo[("ordinal", tuple(lowo.CONTEXT_ALPHAS))] = (trust, {})
memo = Path(f"{WORK}/resmemo_{hashlib.sha1(trust.tobytes()).hexdigest()[:12]}.pkl")
orig = lowo.lowo_classify
def cached(make_for, grid, X, y, writers):
    if tuple(grid) == tuple(lowo.RESOLUTION_CS):
        if memo.exists():
            return pickle.load(open(memo, "rb"))
        out = orig(make_for, grid, X, y, writers); pickle.dump(out, open(memo, "wb")); return out
    return orig(make_for, grid, X, y, writers)
lowo.lowo_classify = cached

def thirds(tr):
    v = np.array([x for _, x in tr.points], dtype=np.float32)
    parts = np.array_split(v, 3) if len(v) >= 3 else [v, v, v]
    m = [float(p.mean()) if len(p) else float(v.mean()) for p in parts]
    return [m[0], m[1], m[2], m[2] - m[0], m[1] - m[0], m[2] - m[1], float(np.argmin(v)) / max(len(v) - 1, 1)]
if extra == "thirds":
    orig_rows = lowo.shape_rows
    def rows(records, weight, variant="base", extra=None):
        X, trs = orig_rows(records, weight, variant, extra)
        return np.hstack([X, np.array([thirds(t) for t in trs], dtype=np.float32)]), trs
    lowo.shape_rows = rows
res = lowo.run(chain, options)
s = lowo.score(chain, res)
print(json.dumps(s["mean"]))
rows_out = [{"id": c.call_id, "writer": str(w), "kind": c.labels.get("kind"), "shape": c.labels["shape"], "pred_shape": str(res["shape"][k]),
         "band": c.labels["band"], "pred_band": str(res["band"][k]), "res": c.labels["resolution"], "pred_res": str(res["resolution"][k])}
        for k, (c, w) in enumerate(zip(chain.calls, chain.writers))]
json.dump({"mean": s["mean"], "rows": rows_out}, open(f"{WORK}/chain_{tag}.json", "w"), default=str)
