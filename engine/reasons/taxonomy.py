"""The contact-reason taxonomy: a TOML file (``models/taxonomy/contact-reasons.toml``) that a
business edits without code. Each reason has an id, a description, whether it is preventable,
an owner and example utterances."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from wocas.errors import WocasError

OTHER = "other"


class TaxonomyError(WocasError, ValueError):
    pass


@dataclass(frozen=True)
class Reason:
    id: str
    description: str
    preventable: bool
    owner: str | None
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    reasons: tuple[Reason, ...]
    path: str = ""

    def get(self, reason_id: str) -> Reason | None:
        return self.by_id.get(reason_id)

    @property
    def by_id(self) -> dict[str, Reason]:
        return {r.id: r for r in self.reasons}

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.reasons]


def load_taxonomy(name_or_path: str) -> Taxonomy:
    """Read a taxonomy by registry name or path; errors name the file and the bad reason."""
    from wocas.models.registry import resolve

    path = resolve(name_or_path).path
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise TaxonomyError(f"taxonomy {path} is not valid TOML: {e}") from e
    raw = data.get("reason")
    if not isinstance(raw, list) or not raw:
        raise TaxonomyError(f"taxonomy {path} has no [[reason]] entries")
    reasons: list[Reason] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        rid = item.get("id")
        where = f"taxonomy {path}, reason #{i + 1} ({rid or 'no id'})"
        if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9_]+", rid) or rid == OTHER:
            raise TaxonomyError(f"{where}: id must be snake_case and not {OTHER!r}")
        if rid in seen:
            raise TaxonomyError(f"{where}: id {rid!r} appears twice")
        seen.add(rid)
        examples = item.get("examples", [])
        if not isinstance(examples, list) or not examples or not all(isinstance(x, str) and x.strip() for x in examples):
            raise TaxonomyError(f"{where}: needs a non-empty list of example utterances")
        unknown = set(item) - {"id", "description", "preventable", "owner", "examples"}
        if unknown:
            raise TaxonomyError(f"{where}: unknown keys {sorted(unknown)}")
        reasons.append(Reason(rid, str(item.get("description", "")), bool(item.get("preventable", False)),
                              item.get("owner"), tuple(examples)))
    return Taxonomy(str(data.get("name", Path(path).stem)), str(data.get("version", "1")), tuple(reasons), str(path))
