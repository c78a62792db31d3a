"""Maximum-likelihood weights for the noisy-OR defection risk.

Each customer has a raw value x_i in [0, 1] per named factor; the risk is
P(leave) = 1 - prod_i (1 - w_i x_i). ``fit_weights`` finds the w_i in [0, upper] that maximise the
likelihood of who left, with an L2 pull toward given prior weights (the hand-set ones), so a
factor the data barely sees keeps its prior. L-BFGS-B, analytic gradient.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

UPPER = 0.95  # no single factor may make leaving certain
L2 = 1.0  # the pull toward the prior: L2 * sum (w - prior)^2, added to the summed negative log-likelihood
EPS = 1e-6  # P(leave) is squeezed into [EPS, 1 - EPS]: a leaver with no factor costs a constant, not infinity


def noisy_or(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """P(leave) per row of raw values ``X`` (customers x factors) under weights ``w``."""
    return 1.0 - np.prod(1.0 - X * w, axis=1)


def _objective(w: np.ndarray, X: np.ndarray, y: np.ndarray, prior: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    terms = 1.0 - X * w  # each factor's chance of not driving the customer away
    stay = np.prod(terms, axis=1)
    p = EPS + (1.0 - 2 * EPS) * (1.0 - stay)
    nll = -np.sum(y * np.log(p) + (1 - y) * np.log(1.0 - p))
    # d stay / d w_j = -x_j * prod_{i != j} (1 - w_i x_i) = -x_j * stay / (1 - w_j x_j)
    d_p = (1.0 - 2 * EPS) * X * (stay[:, None] / terms)
    grad = (-(y / p) + (1 - y) / (1.0 - p)) @ d_p + 2.0 * l2 * (w - prior)
    return float(nll + l2 * np.sum((w - prior) ** 2)), grad


def fit_weights(X: np.ndarray, y: np.ndarray, prior: np.ndarray, l2: float = L2,
                upper: float = UPPER) -> np.ndarray:
    """The weights (one per column of ``X``) that maximise the penalised likelihood of ``y`` (1 = left)."""
    X, y, prior = np.asarray(X, float), np.asarray(y, float), np.asarray(prior, float)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != prior.shape[0]:
        raise ValueError(f"X {X.shape}, y {y.shape} and prior {prior.shape} do not match")
    start = np.clip(prior, 0.0, upper)
    result = minimize(_objective, start, args=(X, y, prior, l2), jac=True, method="L-BFGS-B",
                      bounds=[(0.0, upper)] * X.shape[1])
    if not result.success:
        raise RuntimeError(f"the risk-weight fit did not converge: {result.message}")
    return result.x
