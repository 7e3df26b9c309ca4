"""The external scripts tree: ``<scripts_dir>/<module>/<name>.<ext>``.

Reading is defensive: names must be ``[a-z0-9_-]+``, files must be regular,
UTF-8 text and at most ``max_bytes``; a path that resolves outside the scripts
directory (a symlink escape) is refused before anything is opened. Nothing
outside the scripts directory is ever read.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from engines import SCRIPT_EXTENSIONS, Language, Script

from .providers import NAME_PATTERN

ScriptKey = tuple[str, str]
DEFAULT_MAX_SCRIPT_BYTES = 256 * 1024


class ExternalFileError(Exception):
    """An external script file that cannot be used; the message says why."""


class FileInFlux(Exception):
    """The file changed while it was read; a later file event will bring it again."""


def classify(scripts_dir: Path, path: Path) -> ScriptKey | None:
    """The (module, script) a path stands for, or None when the path is not a
    script location at all (another depth, a dotfile, an editor's temp file,
    another extension) and is ignored."""
    try:
        rel = path.relative_to(scripts_dir)
    except ValueError:
        return None
    if len(rel.parts) != 2:
        return None
    module, filename = rel.parts
    if filename.startswith(".") or module.startswith("."):
        return None
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem or f".{ext.lower()}" not in SCRIPT_EXTENSIONS:
        return None
    return module, stem


def candidates(scripts_dir: Path, key: ScriptKey) -> list[Path]:
    """Every file that claims ``key`` (more than one is ambiguous)."""
    module_dir = scripts_dir / key[0]
    try:
        entries = list(os.scandir(module_dir))
    except OSError:
        return []
    found = [Path(e.path) for e in entries if classify(scripts_dir, Path(e.path)) == key]
    return sorted(p for p in found if os.path.lexists(p))


def scan(scripts_dir: Path) -> set[ScriptKey]:
    """Every key present in the tree."""
    keys: set[ScriptKey] = set()
    try:
        modules = [e for e in os.scandir(scripts_dir) if e.is_dir()]
    except OSError:
        return keys
    for module in modules:
        try:
            for entry in os.scandir(module.path):
                key = classify(scripts_dir, Path(entry.path))
                if key is not None:
                    keys.add(key)
        except OSError:
            continue
    return keys


def read_script(
    scripts_dir: Path, path: Path, max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES, min_age: float = 0.0
) -> Script:
    """Read and check one external script file. Raises :class:`ExternalFileError`,
    or :class:`FileInFlux` when the file changed less than ``min_age`` seconds
    ago or changes while it is read (a save in progress)."""
    key = classify(scripts_dir, path)
    if key is None:
        raise ExternalFileError(f"{path} is not a script location (<scripts>/<module>/<name>.tengo|.zy)")
    module, name = key
    for kind, value in (("module", module), ("script", name)):
        if not NAME_PATTERN.match(value):
            raise ExternalFileError(f"{kind} name {value!r} must match [a-z0-9_-]+")
    root = os.path.realpath(scripts_dir)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        raise ExternalFileError(f"{path} resolves to {real}, outside the scripts directory {root}")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise FileInFlux(f"{path} went away before it could be read") from None
    except OSError as exc:
        raise ExternalFileError(f"cannot open {path}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ExternalFileError(f"{path} is not a regular file")
        if min_age > 0 and time.time() - st.st_mtime < min_age:
            raise FileInFlux(f"{path} was modified moments ago")
        if st.st_size > max_bytes:
            raise ExternalFileError(f"{path} is {st.st_size} bytes, over the {max_bytes}-byte limit")
        chunks = []
        total = 0
        while chunk := os.read(fd, 65536):
            total += len(chunk)
            if total > max_bytes:
                raise ExternalFileError(f"{path} grew over the {max_bytes}-byte limit while being read")
            chunks.append(chunk)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or total != st.st_size:
            raise FileInFlux(f"{path} changed while it was being read")
        try:
            now = os.stat(real)
        except OSError:
            raise FileInFlux(f"{path} went away while it was being read") from None
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise FileInFlux(f"{path} was replaced while it was being read")
    except OSError as exc:
        raise ExternalFileError(f"cannot read {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    try:
        source = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExternalFileError(f"{path} is not UTF-8 text (byte {exc.start})") from exc
    if "\x00" in source:
        raise ExternalFileError(f"{path} is not text (it contains NUL bytes)")
    return Script(
        module=module,
        name=name,
        language=Language.from_filename(path),
        source=source,
        origin="external",
        path=str(path),
    )
