"""Where a study lives: SQLite in the run directory, any RDB URL, or a journal file.

``--storage`` takes an SQLAlchemy URL (``sqlite:///path.db``,
``postgresql://user:password@host:5432/db``, ``mysql+pymysql://...``) or
``journal:PATH``, Optuna's append-only journal file, which several processes
on one machine (or on a shared file system) can use at once without a server.

RDB storages get a heartbeat: a running trial records one every
``HEARTBEAT_SECONDS``; a trial silent for ``GRACE_SECONDS`` belongs to a process
that died (on any machine) and is failed, flagged, and its point run again.
A URL is checked before anything is written: malformed, unknown database
driver, or unreachable server is a one-line ``StorageError``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna

from nas.runs._run_dir import check_run_dir, open_run_dir
from nas.runs._trials import (
    experimental_ok,
    quiet_optuna,
    record_stale,
    recover_interrupted,
)
from search_spaces import InputError

__all__ = [
    "GRACE_SECONDS",
    "HEARTBEAT_SECONDS",
    "StorageError",
    "check_storage",
    "open_storage",
    "open_study",
]

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60  # six missed beats: a trial is not failed over a slow moment
_CONNECT_TIMEOUT_SECONDS = 10
_EXAMPLES = (
    "e.g. sqlite:///runs/study.db, postgresql://user@localhost/cnas or journal:runs/study.log"
)


class StorageError(InputError):
    """A storage URL that is malformed, names an unknown driver, or cannot be reached."""


def check_storage(url: str) -> None:
    """Raise ``StorageError`` unless ``url`` is well formed; writes and connects nothing."""
    _parse(url)


def _parse(url: str) -> tuple[str, str]:
    """('journal', path) or ('rdb', url)."""
    if not isinstance(url, str) or not url.strip():
        raise StorageError(f"empty storage URL; give one, {_EXAMPLES}")
    if url.startswith("journal:"):
        path = url[len("journal:") :]
        if path.startswith("//"):
            path = path[2:]  # journal:///abs/path reads like the sqlite form
        if not path:
            raise StorageError(f"storage URL {url!r} names no file; use journal:PATH")
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise StorageError(
                f"storage URL {url!r}: folder {parent} does not exist; create it first"
            )
        return "journal", str(Path(path).expanduser())
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"malformed storage URL {url!r}; expected {_EXAMPLES}") from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise StorageError(
            f"storage URL {url!r} names an unknown database {parsed.drivername!r}; "
            f"expected {_EXAMPLES}"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parent = Path(parsed.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise StorageError(
                f"storage URL {url!r}: folder {parent} does not exist; create it first"
            )
    return "rdb", url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """Connect to ``url`` (creating the database tables or journal file if new)."""
    kind, target = _parse(url)
    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        try:
            return JournalStorage(JournalFileBackend(target))
        except OSError as error:
            raise StorageError(f"cannot open journal {target}: {error.strerror}") from None
    from sqlalchemy.engine import make_url

    parsed = make_url(target)
    engine_kwargs = {}
    if parsed.get_backend_name() in ("postgresql", "mysql"):
        # Fail in seconds, not minutes, when the server is down or the host unknown.
        engine_kwargs = {"connect_args": {"connect_timeout": _CONNECT_TIMEOUT_SECONDS}}
    try:
        with experimental_ok():
            rdb = optuna.storages.RDBStorage(
                target,
                engine_kwargs=engine_kwargs or None,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=record_stale,
            )
    except ImportError as error:
        raise StorageError(
            f"storage URL {parsed.render_as_string(hide_password=True)!r} needs the "
            f"database driver {error.name or ''}; pip install it"
        ) from None
    except Exception as error:  # sqlalchemy OperationalError and friends: server not there
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise StorageError(
            f"cannot reach storage {parsed.render_as_string(hide_password=True)!r}: "
            f"{reason[0] if reason else type(error).__name__}; check the server and the URL"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _fast_sqlite(rdb.engine)
    # What Optuna itself wraps an RDB storage in: caches the trials this process runs.
    return optuna.storages.get_storage(rdb)


def _fast_sqlite(engine: Any) -> None:
    """Write-ahead log with normal sync: a commit no longer waits for the disk.

    A trial commits some 60 times (one per sampled parameter and attribute); in the
    default rollback-journal mode each waits for a sync. In WAL mode with
    ``synchronous=NORMAL`` a commit survives the process being killed (the point of
    resumption); only a power cut can lose the last commits. WAL needs a local disk
    (not NFS): use journal: or a server URL to share a study across machines.
    """
    from sqlalchemy import event

    def on_connect(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened while creating the tables predate the listener


@contextlib.contextmanager
def open_study(
    run_dir: str | os.PathLike[str],
    identity: Mapping[str, Any],
    *,
    study_name: str,
    storage: str | None,
    directions: list[str],
    n_params: int,
) -> Iterator[tuple[optuna.Study, optuna.storages.BaseStorage]]:
    """Open (or create) the study of a run directory, after every check that can fail.

    Writes nothing until the run directory is known to hold the same run and the
    storage is reachable; then records ``identity``, fails the trials of dead
    processes and queues their points again. Optuna stays quiet inside.
    """
    run_dir = Path(run_dir)
    check_run_dir(run_dir, identity)
    opened = open_storage(storage) if storage else None
    open_run_dir(run_dir, identity)
    if opened is None:
        opened = open_storage(f"sqlite:///{(run_dir / 'study.db').resolve()}")
    with quiet_optuna(), experimental_ok():
        study = optuna.create_study(
            study_name=study_name, storage=opened, directions=directions, load_if_exists=True
        )
        recovered = recover_interrupted(study, opened, n_params=n_params)
        if recovered:
            logger.warning(
                "marked %d interrupted trial(s) failed; their points run again", recovered
            )
        yield study, opened
