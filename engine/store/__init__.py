"""The DuckDB store: the one owner of the database file.

``Store`` opens it (the only place that connects to DuckDB), ``schema`` holds every table's DDL
with the schema version and the migrations from older stores, and ``queries`` reads the tables
other packages need as typed rows.
"""

from wocas.errors import StoreLocked, StoreMissing
from wocas.store.store import ExportFormat, Row, Store

__all__ = ["ExportFormat", "Row", "Store", "StoreLocked", "StoreMissing"]
