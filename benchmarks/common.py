"""Helpers shared by the benchmarks: machine description and result writing."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `wocas bench --out DIR` points this elsewhere so a comparison run keeps the committed results.
RESULTS = Path(os.environ.get("WOCAS_RESULTS_DIR", ROOT / "benchmarks" / "results"))
DEFAULT_DATA = Path(os.environ.get("WOCAS_DATA", ROOT.parent / "shared" / "data"))


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    gpu = None
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    try:  # the machine is often shared: the load says how much of it this run had
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "gpu": gpu, "load_average": load,
            "python": platform.python_version(), "platform": platform.platform(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def write_results(name: str, data: dict, table_rows: list[dict], title: str, notes: str = "") -> Path:
    """Write results/<name>.json and results/<name>.md (a markdown table + the machine)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, default=str))
    lines = [f"# {title}", ""]
    if table_rows:
        cols = list(table_rows[0])
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in table_rows:
            lines.append("| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
    m = data["machine"]
    lines += ["", f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB"
              + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU")
              + (f"; load average {' / '.join(map(str, m['load_average']))} (1/5/15 min) at the end"
                 if m.get("load_average") else "") + f"; Python {m['python']}; {m['date']}."]
    if notes:
        lines += ["", notes]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return "" if value is None else str(value)


def load_bench_config(path: Path | None, overrides: dict | None = None):
    """The config a suite scores, resolved as `wocas run` resolves it (a typo stops the suite)."""
    from wocas.config import load_config

    return load_config(path, overrides)


def model_digest(name_or_path: str) -> str | None:
    """sha256 of a model: the registry's pinned digest where it has one, else the file's own
    digest for a single-file model; None for a folder the registry does not pin."""
    import hashlib

    from wocas.models.registry import _registry

    spec = _registry().get(name_or_path)
    if spec is not None:
        if "sha256" in spec:
            return spec["sha256"]
        files = spec.get("files") or {}
        for key in ("model.bin", "model.safetensors", "model.onnx", "model.json", "head.json"):
            if key in files:
                return files[key]
    path = Path(name_or_path).expanduser()
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    return None


def models_used(config, fields: tuple[tuple[str, str], ...]) -> list[dict]:
    """[{field, name, path, sha256}] for the config fields a suite exercises; a model that is
    not installed is listed with its error instead of stopping the suite."""
    from wocas.errors import WocasError
    from wocas.models.registry import resolve

    out = []
    for section, key in fields:
        value = getattr(getattr(config, section), key, None)
        if value is None:
            continue
        entry = {"field": f"{section}.{key}", "name": str(value)}
        try:
            resolved = resolve(str(value))
            entry["path"] = str(resolved.path)
            entry["sha256"] = model_digest(str(value))
        except WocasError as e:
            if Path(str(value)).expanduser().exists():
                entry["path"] = str(Path(str(value)).expanduser().resolve())
                entry["sha256"] = model_digest(str(value))
            else:
                entry["error"] = str(e)
        except Exception as e:  # an optional package that fails to import: say so, keep going
            entry["error"] = f"{type(e).__name__}: {e}"
        out.append(entry)
    return out
