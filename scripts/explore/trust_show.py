import pickle, numpy as np
WORK = __import__("os").environ.get("TRUST_WORK", "/tmp/trust_explore")
X, y, call, writers, labels, texts, answers = pickle.load(open(f"{WORK}/turns.pkl", "rb"))
p = np.load(f"{WORK}/p_full.npy")
flat_t = [t for ts in texts for t in ts]; flat_a = [a for ans in answers for a in ans]
lab = ~np.isnan(y)
prev = np.full(len(y), np.nan)
for k in np.unique(call):
    rows = np.where(call == k)[0]; last = np.nan
    for r in rows:
        prev[r] = last
        if not np.isnan(y[r]): last = y[r]
ab = np.where(lab & (y >= 0.5) & (prev <= -0.5))[0]
rng = np.random.default_rng(0)
for i in rng.choice(ab, 14, replace=False):
    print(f"y {y[i]*2:+.0f} prev {prev[i]*2:+.0f} pred {p[i]*2:+.1f} | A: {flat_a[i][:90]!r}\n      C: {flat_t[i][:140]!r}")
# error by writer on abrupt
w = writers[call]
for g in np.unique(w):
    m = np.isin(np.arange(len(y)), ab) & (w == g)
    if m.sum(): print(g, m.sum(), f"{p[m].mean()*2:+.2f} vs {y[m].mean()*2:+.2f}")
