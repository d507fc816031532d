"""Atomic files: a reader never sees a half-written result (edge module: file I/O is its job).

* :func:`atomic_path` / :func:`atomic_paths` / :func:`atomic_write` — write to a temporary file
  beside the target (same file system), fsync, then :func:`os.replace`; the temporary file ends
  in ``.partial`` (ignored by ``.gitignore``: ``results/**/*.partial``) and is removed when the
  writer fails. The file gets the mode a plain ``open`` would give it (0666 minus the umask).
* :func:`csv_lock` — an exclusive ``fcntl`` lock on ``.<name>.lock`` beside a file, held for one
  read-merge-write of a CSV shared by several processes.
* :func:`ensure_writable_folder` — create a results folder and check it is writable.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..errors import InputError

__all__ = ["PARTIAL_SUFFIX", "atomic_path", "atomic_paths", "atomic_write", "csv_lock",
           "ensure_writable_folder"]

#: Suffix of every temporary file (ignored by .gitignore: results/**/*.partial).
PARTIAL_SUFFIX = ".partial"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The temporary file lives in the same folder (same file system, so :func:`os.replace` is
    atomic) and ends in ``.partial``; it is removed if the body raises. Use it for writers that
    want a file name (``savefig``); :func:`atomic_write` covers text and bytes.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; results are shared files
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Like :func:`atomic_path` for several files written together: yields one temporary path per
    target; only when the body succeeds are they moved into place (one :func:`os.replace` each),
    otherwise every temporary file is removed and no target is touched."""
    with ExitStack() as stack:
        yield [stack.enter_context(atomic_path(p)) for p in paths]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + :func:`os.replace`).

    A reader never sees a half-written file: it sees the old content or the new one. Text is
    written as UTF-8, byte for byte on every platform (no newline translation).
    """
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8", newline="\n")  # no newline translation
        else:
            tmp.write_bytes(data)


@contextmanager
def csv_lock(csv_path: str | os.PathLike) -> Iterator[None]:
    """Exclusive lock on ``.<name>.lock`` beside ``csv_path`` for one read-merge-write (blocking:
    other batches hold it only while they rewrite the CSV; the lock dies with the process)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    csv_path = Path(csv_path)
    lock = csv_path.with_name(f".{csv_path.name}.lock")
    with open(lock, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield


def ensure_writable_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (with parents) and check it is writable with a probe file.

    Raises :class:`InputError` (one line) when it cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create results folder {folder}: {exc.strerror or type(exc).__name__}"
        ) from None
    probe = folder / f".write-probe-{os.getpid()}{PARTIAL_SUFFIX}"
    try:
        probe.write_bytes(b"probe")
        probe.unlink()
    except OSError as exc:
        raise InputError(
            f"results folder is not writable: {folder} ({exc.strerror or type(exc).__name__})"
        ) from None
    return folder
