"""Discovery of emerging reasons (clustering the statements that matched no reason) and the
per-run ``reasons`` summary with its markdown form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from wocas.reasons.taxonomy import OTHER
from wocas.text.utterance import normalise_text

if TYPE_CHECKING:
    from wocas.models.text_encoder import TextEncoder


STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can cant could did didnt do does doesnt doing dont down during each few for from further
had has have having he her here hers him his how i id if ill im in into is isnt it its itself ive just me more most
my myself no nor not now of off on once only or other our out over own same she should so some such than that thats
the their them then there these they this those through to too under until up very was wasnt we were what when where
which while who whom why will with would you your youre yours yes yeah okay ok oh hi hello please thanks thank
want need like trying calling call called get got going know just really well also still actually think one two
hey sorry mean sure right""".split())


@dataclass(frozen=True)
class EmergingReason:
    label: str
    count: int
    examples: tuple[str, ...]
    members: tuple[int, ...]  # indices into the statements given


def label_from_words(texts: list[str], n_words: int = 3) -> str:
    """A cluster's label: its most widespread content words (in how many members they occur)."""
    df: Counter[str] = Counter()
    for t in texts:
        df.update({w for w in normalise_text(t).split() if w not in STOPWORDS and len(w) > 2 and not w.isdigit()})
    words = [w for w, _ in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[:n_words]]
    return " ".join(words) if words else "unlabelled"


def discover_reasons(statements: list[str], embeddings: np.ndarray | None = None, min_count: int = 2,
                     max_distance: float = 0.55, n_examples: int = 3,
                     encoder: TextEncoder | None = None) -> list[EmergingReason]:
    """Cluster statements that matched no reason into emerging reasons, largest first.

    Average-linkage agglomerative clustering on cosine distance: no number of clusters to
    guess, and a statement joins a cluster only if it is close to the cluster as a whole.
    Without ``embeddings``, the statements are embedded with ``encoder`` (the default encoder
    when none is given).
    """
    if len(statements) < min_count:
        return []
    if embeddings is None:
        from wocas.models.text_encoder import TextEncoder

        embeddings = (encoder or TextEncoder()).encode(statements)
    if len(statements) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                         distance_threshold=max_distance).fit_predict(embeddings)
    found = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < min_count:
            continue
        centre = embeddings[members].mean(axis=0)
        order = members[np.argsort(-(embeddings[members] @ centre))]
        texts = [statements[i] for i in members]
        found.append(EmergingReason(label_from_words(texts), len(members),
                                    tuple(dict.fromkeys(statements[i] for i in order))[:n_examples],
                                    tuple(int(i) for i in members)))
    return sorted(found, key=lambda r: (-r.count, r.label))


# ---- the run summary ----------------------------------------------------------------------
def reasons_summary(store, run_id: str | None = None, n_examples: int = 3, min_count: int = 2,
                    encoder: TextEncoder | None = None) -> dict[str, Any]:
    """Contact reasons of the calls in a store (or one run): counts, share preventable, owner,
    example quotes, plus emerging reasons discovered among the ``other`` statements."""
    where = "c.status = 'ok'" + (" AND c.run_id = ?" if run_id else "")
    params = [run_id] if run_id else []
    total = store.query(f"SELECT count(*) AS n FROM calls c WHERE {where}", params)[0]["n"]
    rows = store.query(f"""
        SELECT c.contact_reason AS reason, count(*) AS calls,
               avg(CASE WHEN c.preventable THEN 1.0 ELSE 0.0 END) AS share_preventable,
               any_value(j.owner) AS owner
        FROM calls c LEFT JOIN jobs j ON j.call_id = c.call_id AND j.idx = 0
        WHERE {where} AND c.contact_reason IS NOT NULL
        GROUP BY c.contact_reason ORDER BY calls DESC, reason""", params)
    quotes = store.query(f"""
        SELECT j.reason, j.statement, j.call_id FROM jobs j JOIN calls c ON c.call_id = j.call_id
        WHERE {where} ORDER BY j.reason_confidence DESC, j.call_id""", params)
    by_reason: dict[str, list[str]] = {}
    for q in quotes:
        lst = by_reason.setdefault(q["reason"], [])
        if len(lst) < n_examples and q["statement"] not in lst:
            lst.append(q["statement"])
    reasons = [{"reason": r["reason"], "calls": int(r["calls"]),
                "share_of_calls": round(r["calls"] / total, 4) if total else 0.0,
                "share_preventable": round(float(r["share_preventable"]), 4), "owner": r["owner"],
                "examples": by_reason.get(r["reason"], [])} for r in rows]
    preventable = store.query(f"SELECT avg(CASE WHEN c.preventable THEN 1.0 ELSE 0.0 END) AS p FROM calls c "
                              f"WHERE {where} AND c.contact_reason IS NOT NULL", params)[0]["p"]
    others = [q["statement"] for q in quotes if q["reason"] == OTHER]
    emerging = discover_reasons(others, min_count=min_count, encoder=encoder)
    return {"run_id": run_id, "calls": int(total),
            "share_preventable": round(float(preventable), 4) if preventable is not None else None,
            "reasons": reasons,
            "emerging": [{"label": e.label, "count": e.count, "examples": list(e.examples)} for e in emerging]}


def summary_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# Contact reasons ({summary['calls']} calls"
             + (f", run {summary['run_id']}" if summary["run_id"] else "") + ")", "",
             f"Share preventable: {summary['share_preventable']}", "",
             "| reason | calls | share | preventable | owner | example |", "|---|---|---|---|---|---|"]
    for r in summary["reasons"]:
        ex = (r["examples"][0] if r["examples"] else "").replace("|", "/")
        lines.append(f"| {r['reason']} | {r['calls']} | {r['share_of_calls']:.1%} | {r['share_preventable']:.0%} "
                     f"| {r['owner'] or '-'} | {ex} |")
    if summary["emerging"]:
        lines += ["", "## Emerging reasons (among `other`)", "", "| label | count | examples |", "|---|---|---|"]
        for e in summary["emerging"]:
            lines.append(f"| {e['label']} | {e['count']} | {' / '.join(x.replace('|', '/') for x in e['examples'])} |")
    return "\n".join(lines) + "\n"
