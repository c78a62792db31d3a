"""The published contract: JSON Schemas of the per-call record and of the store's tables.

``wocas schema [--out DIR]`` writes ``call.schema.json`` (the per-call JSON, ``calls/<id>.json``
and ``wocas show --json``; derived fields are marked ``readOnly``) and ``store.schema.json``
(one object schema per DuckDB table, a row as ``store.query`` returns it). Both carry the version
they describe; a reader checks ``schema_version`` in the record against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wocas.schema import SCHEMA_VERSION, CallAnalysis
from wocas.store import schema as store_schema
from wocas.store.queries import table_columns

BASE_ID = "https://wocas.invalid/schema"  # an identifier, not a location: nothing is fetched


def _json_type(duck: str) -> dict[str, Any]:
    duck = duck.upper()
    if duck.endswith("[]"):
        return {"type": ["array", "null"], "items": _json_type(duck[:-2])}
    if duck in ("BOOLEAN",):
        return {"type": ["boolean", "null"]}
    if duck in ("INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return {"type": ["integer", "null"]}
    if duck in ("DOUBLE", "FLOAT", "REAL") or duck.startswith("DECIMAL"):
        return {"type": ["number", "null"]}
    if duck.startswith("TIMESTAMP"):
        return {"type": ["string", "null"], "format": "date-time"}
    if duck == "DATE":
        return {"type": ["string", "null"], "format": "date"}
    if duck == "JSON":
        return {}
    return {"type": ["string", "null"]}


def call_schema() -> dict[str, Any]:
    schema = CallAnalysis.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{BASE_ID}/call/v{SCHEMA_VERSION}", "x-schema-version": SCHEMA_VERSION, **schema}


def store_tables_schema() -> dict[str, Any]:
    tables = {name: {"type": "object", "additionalProperties": False,
                     "properties": {col: {**_json_type(kind), "x-duckdb-type": kind} for col, kind in cols},
                     "required": [col for col, _ in cols]}
              for name, cols in table_columns().items()}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{BASE_ID}/store/v{store_schema.SCHEMA_VERSION}",
            "x-schema-version": store_schema.SCHEMA_VERSION, "title": "WOCAS store tables",
            "type": "object", "properties": {name: {"type": "array", "items": t} for name, t in tables.items()},
            "$defs": tables}


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in (("call.schema.json", call_schema()), ("store.schema.json", store_tables_schema())):
        path = out / name
        path.write_text(json.dumps(schema, indent=1) + "\n")
        paths.append(path)
    return paths
