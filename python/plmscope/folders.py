"""Output folders: which command made one, the lock that keeps one process in it, and
atomic writes under names no other process uses.

Every command that writes a folder marks it (``.plmscope.json``: the command's name) and,
for as long as it runs, holds an exclusive lock on ``.plmscope.lock`` there. Another
command's folder is refused (it would overwrite that run's files), and so is a folder
another process is working in (both would ask everything and race on the same files).
Folders written before the mark existed are recognised by the files each command leaves.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

MARKER = ".plmscope.json"
LOCK = ".plmscope.lock"
HIDDEN = frozenset({MARKER, LOCK})

_held: dict[str, list] = {}  # resolved folder -> [lock fd, depth]: re-entrant in-process


def made_by(path: str | os.PathLike) -> str | None:
    """The plmscope command that made folder `path` (e.g. "interactions"), or None."""
    path = Path(path)
    if not path.is_dir():
        return None
    marker = _read_json(path / MARKER)
    if isinstance(marker, dict) and isinstance(marker.get("command"), str):
        return marker["command"]
    run = _read_json(path / "run.json")
    if isinstance(run, dict) and isinstance(run.get("kind"), str):
        oracle = run.get("oracle")
        if run["kind"] == "interactions" and isinstance(oracle, dict) \
                and oracle.get("kind") == "planted":
            return "demo"
        return "landscape" if run["kind"] == "landscape-scores" else run["kind"]
    for name, command in (("manifest.json", "embed"), ("sample.json", "align-corr"),
                          ("isotropy.csv", "isotropy"), ("landscape.npz", "landscape"),
                          ("transform.npz", "interactions")):
        if (path / name).exists():
            return command
    return None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def check_owner(path: str | os.PathLike, command: str, flag: str = "--out") -> None:
    """ValueError when `path` is a file, or a folder made by another command than `command`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path} is a file, not a folder; choose a folder path")
    maker = made_by(path)
    if maker is not None and maker != command:
        raise ValueError(
            f"{flag} {path} holds the output of `plmscope {maker}`; `plmscope {command}` "
            f"does not write there (it would overwrite that run): choose another {flag}")


def prepare(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Create folder `path` if needed and check it is writable, before any work is done."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ValueError(f"{flag} {path} is a file, not a folder; choose a folder path") from exc
    except NotADirectoryError as exc:
        raise ValueError(f"{flag} {path} cannot be created: a part of its path is a file, not "
                         "a folder; choose another folder path") from exc
    except OSError as exc:
        raise ValueError(f"{flag} {path} cannot be created ({exc.strerror}); choose a folder "
                         "you can write to") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path} is not writable; choose a folder you can write to (or "
                         "make this one writable) before running")
    return path


@contextlib.contextmanager
def locked(path: str | os.PathLike, flag: str = "--out"):
    """Hold the folder's lock for the duration; ValueError when another process holds it.
    Re-entrant within a process (a command and the library call it makes share it)."""
    import fcntl

    path = Path(path)
    key = str(path.resolve())
    if key in _held:
        _held[key][1] += 1
        try:
            yield path
        finally:
            _held[key][1] -= 1
        return
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ValueError(f"{flag} {path} is not writable ({exc.strerror}); choose a folder you "
                         "can write to") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ValueError(f"{flag} {path} is in use by another plmscope process (pid {holder}); "
                         f"wait for it to finish, or choose another {flag}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held[key] = [fd, 1]
    try:
        yield path
    finally:
        del _held[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def claim(path: str | os.PathLike, command: str, flag: str = "--out"):
    """Refuse another command's folder, create and mark this one, and lock it while the
    body runs: the one call every folder-writing command makes first."""
    check_owner(path, command, flag)
    created = not Path(path).exists()
    had_lock = (Path(path) / LOCK).exists()
    path = prepare(path, flag)
    with locked(path, flag):
        if _only_hidden(path):  # a folder of unknown files is left unmarked
            write_text(path / MARKER, json.dumps({"command": command}) + "\n")
        try:
            yield path
        except BaseException:
            # a failed start (a model that cannot be loaded) leaves no empty subfolders that
            # would look like work begun; folders holding files (finished work) stay
            prune_empty(path)
            raise
        finally:
            # a command that stopped before writing anything (e.g. on a bad argument) leaves
            # the folder as it found it (gone if it made it), free for any command
            if _only_hidden(path):
                with contextlib.suppress(OSError):
                    (path / MARKER).unlink()
                    if not had_lock:
                        (path / LOCK).unlink()
                    if created:
                        path.rmdir()


def prune_empty(path: str | os.PathLike) -> None:
    """Remove the empty folders under `path`, deepest first (`path` itself stays)."""
    path = Path(path)
    if not path.is_dir():
        return
    for sub in sorted((p for p in path.rglob("*") if p.is_dir() and not p.is_symlink()),
                      key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty: it holds results
            sub.rmdir()


def _only_hidden(path: Path) -> bool:
    return all(p.name in HIDDEN for p in path.iterdir())


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike, mode: str = "wb"):
    """An open file under a unique hidden name beside `path`, renamed onto `path` when the
    body succeeds and removed when it fails, so readers see a whole file or none and
    concurrent writers never share a temporary file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never another writer's file; 0o666 under the umask, as open() would make it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_target(path, "w") as fh:
        fh.write(text)


def read_json(path: str | os.PathLike, what: str):
    """The JSON in `path`, or ValueError naming the file when it is not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} ({what}) is not valid JSON ({exc}); it is damaged: delete it "
                         "or choose a new folder") from exc


def damage_reason(exc: BaseException) -> str:
    """A short reason why a data file could not be read, without numpy's hint to unpickle
    it (plmscope never unpickles: a file that is not a plain array is damaged)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if "pickle" in text:
        return "not a plain numpy array file"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_npz(path: str | os.PathLike, what: str) -> dict:
    """Every array of the .npz file `path` (``what`` names it in errors, e.g. "--scores"),
    or ValueError naming the file when it is missing, damaged or not an .npz archive."""
    import zipfile

    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path}: no such file")
    try:
        # our own handle: numpy leaves its file open when a damaged zip fails to parse
        with open(path, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(f"{what} {path} holds a single array (.npy), not an .npz "
                                 "archive of named arrays")
            with data:
                return {k: data[k] for k in data.files}
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{what} {path} is not a readable .npz file "
                         f"({damage_reason(exc)})") from None
    except ValueError as exc:
        if str(exc).startswith(what):
            raise
        raise ValueError(f"{what} {path} is not a readable .npz file "
                         f"({damage_reason(exc)})") from None


def scalar_int(value, what: str) -> int:
    """An integer stored as a 0-d (or one-element) array, or ValueError naming `what`."""
    import numpy as np

    arr = np.asarray(value)
    if arr.size != 1 or not (np.issubdtype(arr.dtype, np.integer)
                             or (np.issubdtype(arr.dtype, np.floating)
                                 and float(arr.reshape(-1)[0]).is_integer())):
        raise ValueError(f"{what} must be one integer, got an array of shape {arr.shape} "
                         f"({arr.dtype})")
    return int(arr.reshape(-1)[0])
