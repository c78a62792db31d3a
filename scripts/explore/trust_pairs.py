import sys, pickle, numpy as np
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT))
from wocas.models.text_encoder import TextEncoder
X, y, call, writers, labels, texts, answers = pickle.load(open(f"{WORK}/turns.pkl", "rb"))
enc = TextEncoder()
pairs, prevpairs = [], []
for ts, ans in zip(texts, answers):
    for j, (t, a) in enumerate(zip(ts, ans)):
        pairs.append(f"{t} [answering: {a}]" if a else t)
        prevpairs.append(f"{t} [after: {ts[j-1]}]" if j else t)
import time; t0 = time.time()
WORK = __import__("os").environ.get("TRUST_WORK", "/tmp/trust_explore")
P = enc.encode(pairs, cache=False); print("pairs", P.shape, time.time() - t0, flush=True)
np.save(f"{WORK}/pairvec.npy", P)
Q = enc.encode(prevpairs, cache=False); print("prev", Q.shape, time.time() - t0)
np.save(f"{WORK}/prevpairvec.npy", Q)
