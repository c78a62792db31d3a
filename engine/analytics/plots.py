"""The trust trajectory of one call as a picture (PNG or SVG, by the file's suffix).

Trust over time, one line per side, each turn a dot coloured by role, the customer's lowest
point marked, and the shape in the title. matplotlib with the Agg backend: no display needed.
"""

from __future__ import annotations

from pathlib import Path

from wocas.schema import CallAnalysis

ROLE_COLOURS = {"customer": "#d1495b", "agent": "#00798c", "unknown": "#8d8d8d"}


def lowest_mark(trajectory) -> tuple[float, str]:
    """Where the lowest point's dot sits (the lowest turn's midpoint, where the curve's points
    are) and its label, which names that same time."""
    at = min(trajectory.points, key=lambda p: p[1])[0] if trajectory.points else trajectory.lowest_at
    return at, f"lowest {trajectory.lowest:+.2f} at {at:.0f}s"


def plot_trajectory(call: CallAnalysis, path: str | Path) -> Path:
    """Write the call's trust-over-time picture to ``path`` (.png or .svg); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"trajectory picture {path}: the name must end in .png or .svg")
    scored = [t for t in call.turns if t.emotion is not None]
    if not scored:
        raise ValueError(f"call {call.call_id}: no turn has an emotion score (was the emotion stage run?)")
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)
    ax.axhline(0, color="#cccccc", linewidth=0.8)
    for role in ("agent", "customer", "unknown"):
        turns = [t for t in scored if t.role == role]
        if not turns:
            continue
        times = [(t.start + t.end) / 2 for t in turns]
        trust = [t.emotion.trust for t in turns]
        ax.plot(times, trust, color=ROLE_COLOURS[role], alpha=0.5, linewidth=1.2)
        ax.scatter(times, trust, color=ROLE_COLOURS[role], s=[20 + 40 * t.emotion.confidence for t in turns],
                   label=role, zorder=3)
    customer = call.trajectories.get("customer")
    if customer is not None:
        at, label = lowest_mark(customer)
        ax.scatter([at], [customer.lowest], marker="o", s=260, facecolor="none",
                   edgecolor="black", linewidth=1.5, zorder=4, label="customer's lowest point")
        ax.annotate(label, (at, customer.lowest),
                    textcoords="offset points", xytext=(6, -14), fontsize=8)
    shapes = ", ".join(f"{role}: {tr.shape} ({tr.turnaround:+.2f})" for role, tr in call.trajectories.items())
    ax.set_title(f"{call.call_id}   {shapes}", fontsize=9)
    ax.set_xlabel("seconds")
    ax.set_ylabel("trust  (-1 frustrated … +1 trusting)")
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlim(0, max(call.duration, scored[-1].end))
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
