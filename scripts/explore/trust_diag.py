import sys, time, pickle
import numpy as np
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "scripts"))
import lowo
from wocas.emotion.context import SCALARS, ordinal_reading
WORK = __import__("os").environ.get("TRUST_WORK", "/tmp/trust_explore")
X, y, call, writers, labels, texts, answers = pickle.load(open(f"{WORK}/turns.pkl", "rb"))
n = len(SCALARS); d = 384
row_w = writers[call]
lab = ~np.isnan(y)
# subsets
prev = np.full(len(y), np.nan)
for k in np.unique(call):
    rows = np.where(call == k)[0]
    last = np.nan
    for r in rows:
        prev[r] = last
        if not np.isnan(y[r]): last = y[r]
abrupt = lab & (y >= 0.5) & (prev <= -0.5)
res = np.array([labels[k]["resolution"] for k in call])
is_last = np.r_[call[1:] != call[:-1], True]
ritual = lab & is_last & np.isin(res, ["unresolved", "customer_gave_up"]) & (y <= 0)
print("abrupt", abrupt.sum(), "ritual-last", ritual.sum(), "labelled", lab.sum())

def variant(mask_cols, scale=None):
    out = np.zeros(len(y), dtype=np.float32)
    Xv = X[:, mask_cols]
    nn = n if mask_cols[-1] == X.shape[1]-1 and mask_cols.size >= n else 0
    for g in np.unique(writers):
        tr = lab & (row_w != g); te = row_w == g
        coef, icpt, mean, sc, _ = lowo.fit_ordinal(Xv[tr], y[tr], n)
        out[te] = ordinal_reading(lowo.standardised(Xv[te], mean, sc, n), coef, icpt)
    return out

def report(name, p):
    from scipy.stats import spearmanr
    rho = spearmanr(y[lab], p[lab]).correlation
    acc = np.mean(np.round(np.clip(p[lab]*2, -2, 2)) == np.round(y[lab]*2))
    print(f"{name:28s} rho {rho:.3f} acc {acc:.3f} | abrupt mean {p[abrupt].mean():+.2f} (label {y[abrupt].mean():+.2f}) >0.25: {np.mean(p[abrupt]>0.25):.2f}"
          f" | ritual mean {p[ritual].mean():+.2f} (label {y[ritual].mean():+.2f}) >0.25: {np.mean(p[ritual]>0.25):.2f}", flush=True)

allc = np.arange(X.shape[1])
which = sys.argv[1:]
t = time.time()
sc = {s: 3*d + i for i, s in enumerate(SCALARS)}
state = [sc[s] for s in ("mean_other", "min_before", "prev_trust", "next_trust")]
V = {
 "full": allc,
 "no_earlier": np.r_[0:2*d, 3*d:X.shape[1]],
 "no_earlier_no_state": np.array([c for c in np.r_[0:2*d, 3*d:X.shape[1]] if c not in state]),
}
for name in [w for w in which if w in V]:
    p = variant(V[name]); report(name, p); np.save(f"{WORK}/p_{name}.npy", p)
print(f"{time.time()-t:.0f} s")

def fit_eval(Xv, nn, name, weights=None):
    from sklearn.linear_model import LogisticRegression
    out = np.zeros(len(y), dtype=np.float32)
    for g in np.unique(writers):
        tr = lab & (row_w != g); te = row_w == g
        mean, scale = Xv[tr][:, -nn:].mean(0), Xv[tr][:, -nn:].std(0); scale = np.where(scale < 1e-6, 1, scale)
        Z = lowo.standardised(Xv[tr], mean, scale, nn)
        coef, icpt = [], []
        for cut in lowo.ORDINAL_CUTS:
            lr = LogisticRegression(C=lowo.ORDINAL_C, max_iter=2000).fit(Z, (y[tr] > cut).astype(int), sample_weight=None if weights is None else weights[tr])
            coef.append(lr.coef_[0]); icpt.append(lr.intercept_[0])
        out[te] = ordinal_reading(lowo.standardised(Xv[te], mean, scale, nn), np.array(coef), np.array(icpt))
    report(name, out); np.save(f"{WORK}/p_{name}.npy", out)

S = X[:, 3*d:]
def col(s): return S[:, SCALARS.index(s)]
if "inter" in sys.argv:
    st = [col(s) for s in ("mean_other", "min_before", "prev_trust")]
    own = [col("trust"), col("log_words"), col("polite")]
    extra = np.stack([a * b for a in own for b in st], 1)
    fit_eval(np.hstack([X, extra]), n + extra.shape[1], "inter")
if "gated" in sys.argv:
    lw = col("log_words"); short = (lw <= np.log1p(6)).astype(np.float32)[:, None]
    E = X[:, 2*d:3*d]
    fit_eval(np.hstack([X[:, :2*d], E * short, E * (1 - short), S]), n, "gated")
if "weighted" in sys.argv:
    w = np.ones(len(y)); chg = np.abs(y - np.nan_to_num(prev, nan=0.0)); w = 1 + 2 * (chg >= 1.0)
    fit_eval(X, n, "weighted", w)
if "pair" in sys.argv:
    P = np.load(f"{WORK}/pairvec.npy")
    fit_eval(np.hstack([X[:, :3*d], P, S]), n, "pair")
if "pair2" in sys.argv:
    P = np.load(f"{WORK}/pairvec.npy"); Q = np.load(f"{WORK}/prevpairvec.npy")
    fit_eval(np.hstack([X[:, :3*d], P, Q, S]), n, "pair2")
if "opening" in sys.argv:
    # a head of its own for the customer's first turn (out of writer), the shipped head for the rest
    first = S[:, SCALARS.index("first")] > 0.5
    base = np.load(f"{WORK}/p_full.npy")
    out = base.copy()
    from sklearn.linear_model import LogisticRegression
    for g in np.unique(writers):
        tr = lab & (row_w != g) & first; te = (row_w == g) & first
        mean, scale = X[tr][:, -n:].mean(0), X[tr][:, -n:].std(0); scale = np.where(scale < 1e-6, 1, scale)
        Z = lowo.standardised(X[tr], mean, scale, n)
        coef, icpt = [], []
        for cut in lowo.ORDINAL_CUTS:
            yy = (y[tr] > cut).astype(int)
            if yy.min() == yy.max():
                coef.append(np.zeros(X.shape[1])); icpt.append(20.0 if yy[0] else -20.0); continue
            lr = LogisticRegression(C=lowo.ORDINAL_C, max_iter=2000).fit(Z, yy)
            coef.append(lr.coef_[0]); icpt.append(lr.intercept_[0])
        out[te] = ordinal_reading(lowo.standardised(X[te], mean, scale, n), np.array(coef), np.array(icpt))
    for name, q in (("shipped", base), ("opening head", out)):
        m = lab & first
        print(f"{name:14s} first turns {m.sum()}: sign agreement (label>=0 vs reading>=-0.25) "
              f"{np.mean((y[m] >= 0) == (q[m] >= -0.125)):.3f}, mean reading when label 0: {q[m & (y == 0)].mean():+.2f}, "
              f"label<0: {q[m & (y < 0)].mean():+.2f}")
    report("opening head", out); np.save(f"{WORK}/p_opening.npy", out)
