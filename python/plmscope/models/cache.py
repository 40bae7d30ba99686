"""A persistent score cache: one SQLite file, scores per (model, scorer, wild type, sequence).

A context row names (model id, backend, precision, scorer, wild type); a score row holds one
variant of that context, keyed by its mutations relative to the wild type: for every mutated
residue, in increasing position, two bytes of the 1-based position (big-endian) and the new
residue's ASCII letter. That key is exact (the sequence is wild type + key) and short, so
millions of q-SFT queries fit in a few hundred MB. WAL mode and a busy timeout let several
processes (e.g. Ray actors) share one file; each process (and thread) opens its own connection.
While a connection is open the file has transient ``-wal`` / ``-shm`` companions; ``close()``
ends this process's connections, and the last one to close anywhere checkpoints the journal
into the file and removes them, leaving one self-contained database.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contexts (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL, backend TEXT NOT NULL, precision TEXT NOT NULL,
    scorer TEXT NOT NULL, wildtype TEXT NOT NULL,
    UNIQUE (model, backend, precision, scorer, wildtype)
);
CREATE TABLE IF NOT EXISTS scores (
    context INTEGER NOT NULL, variant BLOB NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (context, variant)
) WITHOUT ROWID;
"""
_CHUNK = 200_000


def variant_keys(positions: np.ndarray, residues: np.ndarray,
                 wt_residues: np.ndarray) -> list[bytes]:
    """Cache keys of substitution variants.

    positions: (n,) 0-based residue indices; residues: (m, n) uint8 ASCII letters of the
    variants there; wt_residues: (n,) the wild type's letters there.
    """
    positions = np.asarray(positions, dtype=np.int64)
    residues = np.asarray(residues, dtype=np.uint8)
    m, n = residues.shape
    order = np.argsort(positions, kind="stable")
    pos, res, wt = positions[order] + 1, residues[:, order], np.asarray(wt_residues)[order]
    if n and pos.max() > 0xFFFF:
        raise ValueError(f"residue positions above {0xFFFF} do not fit the cache key")
    mutated = res != wt
    triples = np.zeros((m, n, 3), dtype=np.uint8)
    triples[:, :, 0] = (pos >> 8).astype(np.uint8)
    triples[:, :, 1] = (pos & 0xFF).astype(np.uint8)
    triples[:, :, 2] = res
    triples[~mutated] = 0
    # mutated sites first (stable: still in position order), wild-type sites become trailing
    # zero bytes, which rstrip removes (a key never ends in 0: its last byte is a letter)
    first = np.argsort(~mutated, axis=1, kind="stable")
    packed = np.take_along_axis(triples, first[:, :, None], axis=1).reshape(m, 3 * n)
    return [row.tobytes().rstrip(b"\0") for row in packed]


class ScoreCache:
    """Scores persisted in an SQLite file (created if missing). Picklable: the pickle holds
    only the path, and each process opens its own connection. ``close()`` releases the
    connections; the next call opens a new one, so a closed cache stays usable."""

    def __init__(self, path):
        self.path = Path(path).expanduser().resolve()
        if self.path.is_dir():
            raise ValueError(f"cache={self.path} is a folder; give a file path such as "
                             "scores.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_connections()
        self._connect()

    def _init_connections(self) -> None:
        self._lock = threading.Lock()
        self._conns: dict[int, sqlite3.Connection] = {}  # thread id -> its connection
        self._pid = os.getpid()

    def __getstate__(self):
        return {"path": str(self.path)}

    def __setstate__(self, state):
        self.path = Path(state["path"])
        self._init_connections()

    def __repr__(self) -> str:
        return f"ScoreCache({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's connections are not ours
                self._conns, self._pid = {}, os.getpid()
            conn = self._conns.get(threading.get_ident())
        if conn is not None:
            return conn
        # check_same_thread=False only so close() may end every thread's connection; each
        # connection is still used by the one thread that opened it
        conn = sqlite3.connect(str(self.path), timeout=120.0, check_same_thread=False)
        try:
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise ValueError(f"score cache {self.path} cannot be used ({exc}); if it is "
                             "damaged, delete it (the scores it held are computed again), or "
                             "choose another folder") from None
        with self._lock:
            self._conns[threading.get_ident()] = conn
        return conn

    def close(self) -> None:
        """End this process's connections to the file. When no other process has it open,
        SQLite checkpoints the journal into the file and deletes the -wal / -shm files."""
        with self._lock:
            conns = list(self._conns.values()) if self._pid == os.getpid() else []
            self._conns = {}
            self._pid = os.getpid()
        for conn in conns:
            conn.close()

    def context(self, model: str, backend: str, precision: str, scorer: str, wildtype: str) -> int:
        """Id of a (model, backend, precision, scorer, wild type) context, created if new."""
        conn = self._connect()
        key = (model, backend, precision, scorer, wildtype)
        with conn:
            conn.execute("INSERT OR IGNORE INTO contexts (model, backend, precision, scorer, "
                         "wildtype) VALUES (?, ?, ?, ?, ?)", key)
        row = conn.execute("SELECT id FROM contexts WHERE model=? AND backend=? AND precision=? "
                           "AND scorer=? AND wildtype=?", key).fetchone()
        return int(row[0])

    def get(self, context: int, keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(scores, found): float64 scores of the keys (NaN where absent) and a bool mask."""
        scores = np.full(len(keys), np.nan, dtype=np.float64)
        if not keys:
            return scores, np.zeros(0, dtype=bool)
        conn = self._connect()
        first = conn.execute("SELECT 1 FROM scores WHERE context=? LIMIT 1", (context,))
        if first.fetchone() is None:
            return scores, np.zeros(len(keys), dtype=bool)  # a new context: nothing to look up
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (i INTEGER PRIMARY KEY, variant BLOB)")
        # keys in sorted order, so the join walks the score B-tree front to back
        order = sorted(range(len(keys)), key=keys.__getitem__)
        for a in range(0, len(order), _CHUNK):
            chunk = order[a:a + _CHUNK]
            with conn:
                conn.execute("DELETE FROM wanted")
                conn.executemany("INSERT INTO wanted (i, variant) VALUES (?, ?)",
                                 ((r, keys[i]) for r, i in enumerate(chunk)))
            rows = conn.execute("SELECT w.i, s.score FROM wanted w JOIN scores s "
                                "ON s.context = ? AND s.variant = w.variant", (context,)).fetchall()
            if rows:
                rank, val = zip(*rows)
                scores[np.asarray(chunk)[list(rank)]] = val
        with conn:
            conn.execute("DELETE FROM wanted")
        return scores, ~np.isnan(scores)

    def put(self, context: int, keys: list[bytes], scores) -> None:
        """Store scores (one transaction per chunk; existing keys are overwritten)."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(keys) != scores.shape[0]:
            raise ValueError(f"{len(keys)} keys but {scores.shape[0]} scores")
        if not np.all(np.isfinite(scores)):
            raise ValueError("refusing to cache non-finite scores")
        conn = self._connect()
        values = scores.tolist()
        order = sorted(range(len(keys)), key=keys.__getitem__)  # sequential B-tree inserts
        for a in range(0, len(order), _CHUNK):
            with conn:
                conn.executemany("INSERT OR REPLACE INTO scores (context, variant, score) "
                                 "VALUES (?, ?, ?)",
                                 ((context, keys[i], values[i]) for i in order[a:a + _CHUNK]))

    def count(self, context: int | None = None) -> int:
        conn = self._connect()
        if context is None:
            return int(conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
        row = conn.execute("SELECT COUNT(*) FROM scores WHERE context=?", (context,)).fetchone()
        return int(row[0])
