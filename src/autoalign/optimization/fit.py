"""Gao, Schulman and Hilton's (2023) functional forms for gold reward against optimization, fitted.

With d = sqrt(KL(pi || pi_0)) and the gain in gold reward over the initial policy:

* best-of-n (and its distillation, expert iteration):  gain = d (alpha - beta d)
* reinforcement learning:                               gain = d (alpha - beta log d)

Both are linear in (alpha, beta), so the fit is ordinary least squares through the origin (the
initial policy has d = 0 and gain 0 by definition). Each form has one peak: d* = alpha / (2 beta)
for best-of-n, d* = exp(alpha / beta - 1) for RL (when beta > 0; with beta <= 0 the fitted curve
never turns down within the form). These are fitted models, not measurements: the measured curve is
the checkpoints themselves, and where gold peaked among them is reported beside the fit.
"""

from __future__ import annotations

import math

import numpy as np

FORMS = ("bon", "rl")


def design(d: np.ndarray, form: str) -> np.ndarray:
    if form == "bon":
        return np.stack([d, -(d**2)], 1)
    if form == "rl":
        return np.stack([d, -d * np.log(np.maximum(d, 1e-12))], 1)
    raise ValueError(f"unknown functional form {form!r}; known: {', '.join(FORMS)}")


def fit_form(d, gain, form: str) -> dict:
    """alpha, beta, R^2 and the fitted peak d* of ``gain = f(d)``; points with d = 0 carry no
    information (both columns vanish) and are left out. None values when fewer than 2 points remain."""
    d, gain = np.asarray(d, float), np.asarray(gain, float)
    keep = d > 0
    d, gain = d[keep], gain[keep]
    if len(d) < 2:
        return {"form": form, "alpha": None, "beta": None, "r2": None, "peak_d": None, "points": int(len(d))}
    X = design(d, form)
    (alpha, beta), *_ = np.linalg.lstsq(X, gain, rcond=None)
    pred = X @ np.array([alpha, beta])
    ss = float(((gain - gain.mean()) ** 2).sum())
    r2 = 1 - float(((gain - pred) ** 2).sum()) / ss if ss > 0 else None
    peak = None
    if beta > 0:
        peak = alpha / (2 * beta) if form == "bon" else math.exp(alpha / beta - 1)
    return {
        "form": form,
        "alpha": round(float(alpha), 5),
        "beta": round(float(beta), 5),
        "r2": None if r2 is None else round(r2, 4),
        "peak_d": None if peak is None else round(float(peak), 4),
        "points": int(len(d)),
    }
