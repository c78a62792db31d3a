"""Per-turn LOWO diagnostics for context-head feature variants (exploration, not shipped)."""
import sys, time, pickle
from pathlib import Path
import numpy as np
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "scripts"))
import lowo
from wocas.emotion.context import SCALARS, ordinal_reading
WORK = __import__("os").environ.get("TRUST_WORK", "/tmp/trust_explore")

chain = lowo.load_chain(lowo.default_sources(), Path(__import__("os").environ["LOWO_CACHE"]))
T = chain.turns
n = len(SCALARS); d = T.dim
pickle.dump((T.X, T.y, T.call, chain.writers, [c.labels for c in chain.calls],
             [[c.turn.text for c in cs] for cs in T.contexts], [[c.answers for c in cs] for cs in T.contexts]),
            open(f"{WORK}/turns.pkl", "wb"))
print("saved", T.X.shape)
