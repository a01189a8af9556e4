"""Crash-safe writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would surprise whoever reads the file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    dst = Path(dst)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replaceable(path: str | os.PathLike[str], marker: str) -> bool:
    """Whether `path` may be replaced by a new directory of its kind: it does not exist, is an
    empty directory, or is a directory holding `marker` (manifest.json, run.json). Anything else
    is somebody's data, and a typo in --out must not delete it."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        return False
    if not path.exists():
        return True
    return (path / marker).is_file() or not any(path.iterdir())


def staging_dir(final: str | os.PathLike[str]) -> Path:
    """A fresh directory beside `final` (same file system, so it can be renamed into place)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    staged.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would follow the directory into place
    return staged


def replace_dir(staged: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Move a complete `staged` directory to `final`, replacing what was there.

    The old directory is renamed aside first and deleted only once the new one is in place, so at
    every moment `final` is either the complete old directory, absent, or the complete new one.
    """
    staged, final = Path(staged), Path(final)
    old = None
    if final.exists() or final.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
        os.rmdir(old)
        os.replace(final, old)
    try:
        os.replace(staged, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    _fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
