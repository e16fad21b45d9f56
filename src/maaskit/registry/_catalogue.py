"""The embedded model registry: a SQLite catalogue plus a folder of checksummed artifacts.

Layout of a registry folder (``MAASKIT_HOME``, else ``~/.maaskit``)::

    catalogue.sqlite3           models, versions, aliases, API keys, a change stamp
    artifacts/<name>/v<N>.npz   the bytes of maaskit.persistence.dumps (never pickle)

Publishing is atomic: the artifact is written to a temporary file and fsynced; then, inside
one ``BEGIN IMMEDIATE`` transaction (which serialises publishers across processes), the next
version number is reserved, the file is renamed to its final name and the catalogue row is
inserted. A crash before ``COMMIT`` leaves no catalogue row, so no half version is ever
visible; the next publisher reuses the number and overwrites the orphan file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Iterator

from ..exceptions import ArtifactError
from ._errors import ModelNotFoundError
from ._keys import ApiKey, ApiKeysMixin
from ._names import parse_ref, validate_alias, validate_name
from ._records import ModelVersion, _check_metrics, _check_tags, model_kind, training_history
from ._signature import infer_signature

# SQLite connections must neither be used nor closed in a process forked from the one that
# opened them: closing one there can checkpoint and delete the WAL under the other processes'
# feet (commits lost). A forked child therefore parks every inherited connection here, where
# it is never closed, and opens its own.
_INHERITED: list[sqlite3.Connection] = []
_OPEN_REGISTRIES: "weakref.WeakSet[Registry]" = weakref.WeakSet()


def _park_inherited_connections() -> None:
    for reg in list(_OPEN_REGISTRIES):
        con = getattr(reg._local, "con", None)
        if con is not None:
            _INHERITED.append(con)
            reg._local.con = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_park_inherited_connections)

__all__ = ["Registry", "ModelVersion", "ApiKey", "ModelNotFoundError", "default_home", "HOME_ENV_VAR"]

#: Environment variable naming the registry folder.
HOME_ENV_VAR = "MAASKIT_HOME"
_DB_NAME = "catalogue.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    next_version INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    estimator_class TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    metrics TEXT NOT NULL,
    signature TEXT NOT NULL,
    created REAL NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (name, alias)
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    scopes TEXT NOT NULL,
    label TEXT NOT NULL,
    created REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('stamp', 0);
CREATE TABLE IF NOT EXISTS histories (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    history TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS signed_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    signed INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
"""


def default_home() -> Path:
    """The registry folder: ``$MAASKIT_HOME`` when set, else ``~/.maaskit``.

    Returns
    -------
    path : Path
    """
    env = os.environ.get(HOME_ENV_VAR, "").strip()
    return Path(env).expanduser() if env else Path("~/.maaskit").expanduser()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    # Make the rename itself durable (POSIX needs the directory entry flushed too).
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


class Registry(ApiKeysMixin):
    """A model registry ("model market") in a folder: SQLite catalogue + artifact files.

    Safe for several threads and several processes at once. Nothing is unpickled: artifacts
    are maaskit's ``.npz`` + JSON format, their SHA-256 is checked against the catalogue on
    every load, and the estimator classes they may name come from maaskit's allow-list.

    Parameters
    ----------
    root : str or path-like, default=None
        The registry folder (created if missing). ``None`` uses ``$MAASKIT_HOME``, else
        ``~/.maaskit``.
    signing_key : str or bytes, default=None
        Secret key for artifact signatures (HMAC-SHA256); ``None`` uses
        ``$MAASKIT_SIGNING_KEY`` when set. With a key, everything published is signed, and
        :meth:`load` refuses artifacts that are unsigned or signed with another key (see
        :mod:`maaskit.persistence` for what a signature protects against).
    create : bool, default=True
        Create the folder and catalogue when missing; ``False`` (for reads) raises
        :class:`ModelNotFoundError` naming the folder instead.

    Attributes
    ----------
    root : Path
        The registry folder.
    db_path : Path
        The SQLite catalogue.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from maaskit import Recommender
    >>> from maaskit.registry import Registry
    >>> reg = Registry(tempfile.mkdtemp())
    >>> plays = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})
    >>> mv = reg.publish("films", Recommender(random_state=0).fit(plays), tags={"team": "tv"})
    >>> mv.version
    1
    >>> reg.set_alias("films", "production", 1)
    >>> type(reg.load("films", "production")).__name__
    'Recommender'
    """

    def __init__(self, root: str | os.PathLike | None = None, *,
                 signing_key: str | bytes | None = None, create: bool = True) -> None:
        from .._artifact import resolve_key

        self._signing_key = resolve_key(signing_key)
        self.root = Path(root).expanduser() if root is not None else default_home()
        if not create and not (self.root / _DB_NAME).is_file():
            # A read (``maaskit recommend``, ``models list``) must not leave an empty
            # ~/.maaskit behind, and must say where it looked.
            raise ModelNotFoundError(
                f"no registry at {str(self.root)!r}: nothing has been published there. Pass the "
                f"registry folder (--registry PATH, or Registry(path)) or set {HOME_ENV_VAR}."
            )
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "artifacts").mkdir(exist_ok=True)
        self.db_path = self.root / _DB_NAME
        self._local = threading.local()
        _OPEN_REGISTRIES.add(self)
        self._init_schema()

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        # One connection per thread and process (a forked child must not reuse the parent's).
        con = getattr(self._local, "con", None)
        if con is not None:
            if self._local.pid == os.getpid():
                return con
            _INHERITED.append(con)  # opened before a fork: never close it here
        con = sqlite3.connect(self.db_path, timeout=60.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout = 60000")
        con.execute("PRAGMA synchronous = FULL")
        self._local.con, self._local.pid = con, os.getpid()
        return con

    def _init_schema(self) -> None:
        con = self._connect()
        for _ in range(50):
            try:
                con.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:  # another process is switching it right now
                time.sleep(0.05)
        with self._transaction() as c:
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    c.execute(stmt)

    class _Tx:
        def __init__(self, con: sqlite3.Connection) -> None:
            self.con = con

        def __enter__(self) -> sqlite3.Connection:
            # IMMEDIATE takes the write lock now: publishers in other processes queue here.
            self.con.execute("BEGIN IMMEDIATE")
            return self.con

        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            if exc_type is None:
                self.con.execute("COMMIT")
            else:
                self.con.execute("ROLLBACK")

    def _transaction(self) -> "Registry._Tx":
        return Registry._Tx(self._connect())

    @staticmethod
    def _bump(con: sqlite3.Connection) -> None:
        con.execute("UPDATE meta SET value = value + 1 WHERE key = 'stamp'")

    def stamp(self) -> int:
        """A counter that changes whenever the catalogue changes (for cheap hot reload).

        Returns
        -------
        stamp : int
        """
        row = self._connect().execute("SELECT value FROM meta WHERE key = 'stamp'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close this thread's catalogue connection (others close when garbage-collected)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # ------------------------------------------------------------------ publish
    def publish(self, name: str, estimator: Any, *, description: str = "", tags: dict | None = None,
                metrics: dict | None = None, signature: dict | None = None,
                alias: str | None = None) -> ModelVersion:
        """Publish a fitted estimator as the next version of ``name``.

        Parameters
        ----------
        name : str
            Model name (letters, digits, ``.``, ``_``, ``-``).
        estimator : estimator
            A fitted, registered maaskit estimator.
        description : str, default=""
            Free text.
        tags : dict of str to str, default=None
            Searchable tags.
        metrics : dict of str to float, default=None
            Evaluation figures to keep with the version.
        signature : dict, default=None
            Input signature; ``None`` infers it from the estimator.
        alias : str, default=None
            Point this alias (e.g. ``"production"``) at the new version.

        Returns
        -------
        version : ModelVersion
        """
        from ..persistence import dumps

        validate_name(name, where="Registry.publish")
        data = dumps(estimator, signing_key=self._signing_key)
        sig = infer_signature(estimator) if signature is None else signature
        return self._publish(name, data, _class_key(estimator), description, tags, metrics, sig, alias,
                             history=training_history(estimator))

    def publish_bytes(self, name: str, data: bytes, *, description: str = "", tags: dict | None = None,
                      metrics: dict | None = None, signature: dict | None = None,
                      alias: str | None = None) -> ModelVersion:
        """Publish an artifact given as bytes (``maaskit.persistence.dumps`` output).

        The bytes are fully loaded (checksum, format, class allow-list and state schema) before
        anything is written, so a foreign or tampered artifact never enters the registry. With
        a signing key, an artifact that carries a signature must verify under it, and what is
        stored is re-signed by the registry (the registry vouches for what it publishes).

        Parameters
        ----------
        name : str
            Model name.
        data : bytes
            Artifact content.
        description : str, default=""
            Free text.
        tags : dict of str to str, default=None
            Searchable tags.
        metrics : dict of str to float, default=None
            Evaluation figures.
        signature : dict, default=None
            Input signature; ``None`` infers it from the loaded estimator.
        alias : str, default=None
            Point this alias at the new version.

        Returns
        -------
        version : ModelVersion
        """
        from ..persistence import dumps, loads

        validate_name(name, where="Registry.publish")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Registry.publish: data must be bytes; got {type(data).__name__}.")
        data = bytes(data)
        estimator = loads(data, signing_key=self._signing_key, require_signature=False)
        if self._signing_key is not None:
            data = dumps(estimator, signing_key=self._signing_key)
        sig = infer_signature(estimator) if signature is None else signature
        return self._publish(name, data, _class_key(estimator), description, tags, metrics, sig, alias,
                             history=training_history(estimator))

    def _publish(self, name: str, data: bytes, cls_key: str, description: str, tags: dict | None,
                 metrics: dict | None, signature: dict, alias: str | None, *,
                 history: dict | None = None) -> ModelVersion:
        where = "Registry.publish"
        tags = _check_tags(tags, where)
        metrics = _check_metrics(metrics, where)
        if not isinstance(description, str):
            raise TypeError(f"{where}: description must be a str; got {type(description).__name__}.")
        if alias is not None:
            validate_alias(alias, where)
        folder = self.root / "artifacts" / name
        folder.mkdir(parents=True, exist_ok=True)
        digest = _sha256(data)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".publish-", suffix=".tmp")
        final: Path | None = None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            now = time.time()
            with self._transaction() as con:
                row = con.execute("SELECT next_version FROM models WHERE name = ?", (name,)).fetchone()
                version = 1 if row is None else int(row[0])
                if row is None:
                    con.execute("INSERT INTO models (name, next_version, created) VALUES (?, ?, ?)",
                                (name, version + 1, now))
                else:
                    con.execute("UPDATE models SET next_version = ? WHERE name = ?", (version + 1, name))
                rel = f"artifacts/{name}/v{version}.npz"
                final = self.root / rel
                os.replace(tmp, final)
                _fsync_dir(folder)
                con.execute(
                    "INSERT INTO versions (name, version, path, sha256, size, estimator_class, description,"
                    " tags, metrics, signature, created, archived) VALUES (?,?,?,?,?,?,?,?,?,?,?,0)",
                    (name, version, rel, digest, len(data), cls_key, description, json.dumps(tags),
                     json.dumps(metrics), json.dumps(signature), now),
                )
                if alias is not None:
                    con.execute("INSERT OR REPLACE INTO aliases (name, alias, version, updated) VALUES (?,?,?,?)",
                                (name, alias, version, now))
                self._record_history(con, name, version, history)
                # What this registry stored is signed exactly when it has a key (publish signs,
                # publish_bytes re-signs); versions from before this table have no row.
                con.execute("INSERT OR REPLACE INTO signed_versions (name, version, signed) VALUES (?,?,?)",
                            (name, version, int(self._signing_key is not None)))
                self._bump(con)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if final is not None and final.exists() and not self._has_version(name, final):
                final.unlink()
            raise
        return self._get_version(name, version, "Registry.publish")

    def _has_version(self, name: str, path: Path) -> bool:
        rel = path.relative_to(self.root).as_posix()
        try:
            return self._connect().execute(
                "SELECT 1 FROM versions WHERE name = ? AND path = ?", (name, rel)).fetchone() is not None
        except sqlite3.Error:
            return True  # when in doubt, keep the file: an orphan is harmless, a lost version is not

    @staticmethod
    def _record_history(con: sqlite3.Connection, name: str, version: int, history: dict | None) -> None:
        # Inside the publish transaction: a version and its learning curve appear together.
        con.execute("DELETE FROM histories WHERE name = ? AND version = ?", (name, version))
        if history:
            con.execute("INSERT INTO histories (name, version, history) VALUES (?,?,?)",
                        (name, version, json.dumps(history, allow_nan=False)))

    def signed_versions(self, name: str) -> dict[int, bool]:
        """Whether each version of ``name`` was stored signed (HMAC-SHA256 with this registry's key).

        Parameters
        ----------
        name : str
            Model name.

        Returns
        -------
        signed : dict of int to bool
            Version -> signed; versions published before the registry recorded it are absent
            (unknown).
        """
        rows = self._connect().execute("SELECT version, signed FROM signed_versions WHERE name = ?", (name,))
        return {int(v): bool(f) for v, f in rows}

    def history(self, name: str, ref: int | str | None = None) -> dict:
        """The training history (learning curve) recorded when a version was published.

        Parameters
        ----------
        name : str
            Model name.
        ref : int, str or None, default=None
            Version number, alias, ``"latest"`` or ``None`` (see :meth:`get_version`).

        Returns
        -------
        history : dict of str to list of float or None
            One series per recorded quantity (e.g. ``"loss"``, ``"val_score"``), one value per
            epoch (``None`` where the value was not finite); empty when the estimator kept no
            ``history_``.
        """
        mv = self.get_version(name, ref)
        row = self._connect().execute("SELECT history FROM histories WHERE name = ? AND version = ?",
                                      (mv.name, mv.version)).fetchone()
        return json.loads(row[0]) if row else {}

    # ------------------------------------------------------------------ read
    def _row_to_version(self, row: tuple, aliases: tuple) -> ModelVersion:
        (name, version, path, sha, size, cls, desc, tags, metrics, sig, created, archived) = row
        return ModelVersion(
            name=name, version=int(version), sha256=sha, size=int(size), estimator_class=cls,
            description=desc, tags=json.loads(tags), metrics=json.loads(metrics),
            signature=json.loads(sig), created=float(created), archived=bool(archived),
            aliases=aliases, path=path,
        )

    _COLUMNS = ("name, version, path, sha256, size, estimator_class, description, tags, metrics, "
                "signature, created, archived")

    def _aliases_of(self, con: sqlite3.Connection, name: str) -> dict[int, tuple]:
        out: dict[int, list] = {}
        for alias, version in con.execute("SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias", (name,)):
            out.setdefault(int(version), []).append(alias)
        return {k: tuple(v) for k, v in out.items()}

    def model_names(self) -> list[str]:
        """Names of all models with at least one version, sorted.

        Returns
        -------
        names : list of str
        """
        rows = self._connect().execute("SELECT DISTINCT name FROM versions ORDER BY name").fetchall()
        return [r[0] for r in rows]

    def versions(self, name: str, *, include_archived: bool = False) -> list[ModelVersion]:
        """All versions of a model, oldest first.

        Parameters
        ----------
        name : str
            Model name.
        include_archived : bool, default=False
            Also list archived versions.

        Returns
        -------
        versions : list of ModelVersion
        """
        validate_name(name, where="Registry.versions")
        con = self._connect()
        rows = con.execute(f"SELECT {self._COLUMNS} FROM versions WHERE name = ? ORDER BY version", (name,)).fetchall()
        aliases = self._aliases_of(con, name)
        return [self._row_to_version(r, aliases.get(int(r[1]), ())) for r in rows
                if include_archived or not r[11]]

    def list_models(self, *, search: str | None = None, tag: str | None = None,
                    include_archived: bool = False) -> list[dict]:
        """Summaries of the models, optionally filtered by a name substring or a tag.

        Parameters
        ----------
        search : str, default=None
            Keep models whose name contains this (case-insensitive).
        tag : str, default=None
            Keep models with a version carrying this tag: ``"key"`` or ``"key=value"``.
        include_archived : bool, default=False
            Count archived versions too.

        Returns
        -------
        models : list of dict
            One dict per model: name, latest_version, n_versions, aliases (alias ->
            version), tags and description of the latest version, and its kind
            (``recommender``, ``classifier``, ``regressor``, ``text``, ``word_vectors``), metrics
            and publication time (``updated``).
        """
        out = []
        for name in self.model_names():
            if search and search.lower() not in name.lower():
                continue
            vs = self.versions(name, include_archived=include_archived)
            if not vs:
                continue
            if tag is not None:
                key, _, value = tag.partition("=")
                if not any(key in v.tags and (not value or str(v.tags[key]) == value) for v in vs):
                    continue
            latest = vs[-1]
            aliases = {a: v.version for v in vs for a in v.aliases}
            out.append({"name": name, "latest_version": latest.version, "n_versions": len(vs),
                        "aliases": aliases, "tags": latest.tags, "description": latest.description,
                        "estimator_class": latest.estimator_class, **_summary_extras(latest)})
        return out

    def get_version(self, name: str, ref: int | str | None = None) -> ModelVersion:
        """Resolve a version number, alias or default to its catalogue record.

        Parameters
        ----------
        name : str
            Model name.
        ref : int, str or None, default=None
            A version number, an alias, ``"latest"``, or ``None`` (the ``production``
            alias when set, else the latest non-archived version).

        Returns
        -------
        version : ModelVersion
        """
        return self._get_version(name, ref, "Registry.get_version")

    def _get_version(self, name: str, ref: int | str | None, where: str) -> ModelVersion:
        # ``where`` is the public method the user called (load, load_version, get_version):
        # messages never name a helper the user did not call.
        validate_name(name, where=where)
        ref = parse_ref(ref, where)
        con = self._connect()
        version: int | None = None
        if isinstance(ref, int):
            version = ref
        elif isinstance(ref, str) and ref != "latest":
            row = con.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, ref)).fetchone()
            if row is None:
                known = sorted(a for v in self._aliases_of(con, name).values() for a in v)
                raise ModelNotFoundError(f"{where}: model {name!r} has no alias {ref!r}; its aliases are {known}.")
            version = int(row[0])
        elif ref is None:
            row = con.execute("SELECT version FROM aliases WHERE name = ? AND alias = 'production'", (name,)).fetchone()
            version = None if row is None else int(row[0])
        if version is None:
            row = con.execute(f"SELECT {self._COLUMNS} FROM versions WHERE name = ? AND archived = 0 "
                              f"ORDER BY version DESC LIMIT 1", (name,)).fetchone()
        else:
            row = con.execute(f"SELECT {self._COLUMNS} FROM versions WHERE name = ? AND version = ?",
                              (name, version)).fetchone()
        if row is None:
            names = self.model_names()
            if name not in names:
                held = f"it holds {names[:20]}" if names else "it holds no model yet"
                raise ModelNotFoundError(
                    f"{where}: no model named {name!r} in the registry at {str(self.root)!r}; {held}."
                )
            versions = [v.version for v in self.versions(name, include_archived=True)]
            raise ModelNotFoundError(
                f"{where}: model {name!r} has no version {ref if ref is not None else 'to serve'!r}; "
                f"its versions are {versions}."
            )
        return self._row_to_version(row, self._aliases_of(con, name).get(int(row[1]), ()))

    def read_bytes(self, version: ModelVersion) -> bytes:
        """Read an artifact and verify its SHA-256 against the catalogue.

        Parameters
        ----------
        version : ModelVersion

        Returns
        -------
        data : bytes
        """
        path = self.root / version.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"Registry.load: artifact of {version.name} v{version.version} is missing ({exc}).") from None
        if not hmac.compare_digest(_sha256(data), version.sha256):
            raise ArtifactError(
                f"Registry.load: checksum mismatch for {version.name} v{version.version}: the artifact "
                f"was modified or truncated on disk."
            )
        return data

    def load_version(self, name: str, ref: int | str | None = None) -> tuple[ModelVersion, Any]:
        """Resolve ``ref`` and load the estimator, checksum verified.

        Parameters
        ----------
        name : str
            Model name.
        ref : int, str or None, default=None
            Version number, alias, ``"latest"`` or ``None`` (see :meth:`get_version`).

        Returns
        -------
        version : ModelVersion
        estimator : estimator
        """
        return self._load_version(name, ref, "Registry.load_version")

    def _load_version(self, name: str, ref: int | str | None, where: str) -> tuple[ModelVersion, Any]:
        from ..persistence import loads

        mv = self._get_version(name, ref, where)
        # With a signing key, unsigned and mis-signed artifacts are refused here: this is the
        # path `maaskit serve` loads models through.
        return mv, loads(self.read_bytes(mv), signing_key=self._signing_key)

    def load(self, name: str, ref: int | str | None = None) -> Any:
        """Load the estimator of a model version (see :meth:`load_version`).

        Parameters
        ----------
        name : str
            Model name.
        ref : int, str or None, default=None
            Version number, alias, ``"latest"`` or ``None``.

        Returns
        -------
        estimator : estimator
        """
        return self._load_version(name, ref, "Registry.load")[1]

    # ------------------------------------------------------------------ aliases, archive, delete
    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` (e.g. ``"production"``) at a version; servers follow it live.

        Parameters
        ----------
        name : str
            Model name.
        alias : str
            Alias (not a number, not ``latest``).
        version : int or str
            Target version number, or another alias to copy.
        """
        where = "Registry.set_alias"
        validate_alias(alias, where)
        target = self._get_version(name, version, "Registry.set_alias")
        if target.archived:
            raise ValueError(f"{where}: version {target.version} of {name!r} is archived; unarchive it first.")
        with self._transaction() as con:
            con.execute("INSERT OR REPLACE INTO aliases (name, alias, version, updated) VALUES (?,?,?,?)",
                        (name, alias, target.version, time.time()))
            self._bump(con)

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove an alias.

        Parameters
        ----------
        name : str
            Model name.
        alias : str
            The alias to remove.
        """
        validate_name(name, where="Registry.remove_alias")
        validate_alias(alias, "Registry.remove_alias")
        with self._transaction() as con:
            cur = con.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))
            if cur.rowcount == 0:
                raise ModelNotFoundError(f"Registry.remove_alias: model {name!r} has no alias {alias!r}.")
            self._bump(con)

    def archive(self, name: str, version: int, *, archived: bool = True) -> None:
        """Archive (hide) or unarchive a version; an archived version keeps no alias.

        Parameters
        ----------
        name : str
            Model name.
        version : int
            Version number.
        archived : bool, default=True
            ``False`` unarchives.
        """
        mv = self._get_version(name, int(version), "Registry.archive")
        with self._transaction() as con:
            con.execute("UPDATE versions SET archived = ? WHERE name = ? AND version = ?",
                        (int(bool(archived)), name, mv.version))
            if archived:
                con.execute("DELETE FROM aliases WHERE name = ? AND version = ?", (name, mv.version))
            self._bump(con)

    def delete(self, name: str, version: int | None = None) -> int:
        """Delete one version (or, with ``version=None``, every version) and its artifact.

        Version numbers are never reused, even after deletion.

        Parameters
        ----------
        name : str
            Model name.
        version : int, default=None
            The version; ``None`` deletes the whole model.

        Returns
        -------
        n_deleted : int
            How many versions were deleted.
        """
        validate_name(name, where="Registry.delete")
        targets = (self.versions(name, include_archived=True) if version is None
                   else [self._get_version(name, int(version), "Registry.delete")])
        if not targets:
            raise ModelNotFoundError(f"Registry.delete: no model named {name!r}.")
        with self._transaction() as con:
            for mv in targets:
                con.execute("DELETE FROM versions WHERE name = ? AND version = ?", (name, mv.version))
                con.execute("DELETE FROM aliases WHERE name = ? AND version = ?", (name, mv.version))
                con.execute("DELETE FROM histories WHERE name = ? AND version = ?", (name, mv.version))
                con.execute("DELETE FROM signed_versions WHERE name = ? AND version = ?", (name, mv.version))
            self._bump(con)
        for mv in targets:  # after COMMIT: a crash here leaves an orphan file, never a dangling row
            try:
                (self.root / mv.path).unlink()
            except FileNotFoundError:
                pass
        return len(targets)

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    def __iter__(self) -> Iterator[str]:
        return iter(self.model_names())


def _class_key(estimator: Any) -> str:
    from ..persistence import _class_key as key

    return key(estimator)


def _summary_extras(latest: ModelVersion) -> dict:
    # What the model market's list shows beyond the catalogue's own fields.
    return {"kind": model_kind(latest.signature), "metrics": latest.metrics, "updated": latest.created}
