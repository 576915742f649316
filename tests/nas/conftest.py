"""Fixtures of the nas tests: one Ray instance, a throwaway PostgreSQL server on loopback.

`make test` installs Debian's postgresql when it is missing; this starts a fresh
cluster in a temporary folder (trust auth, loopback only) and removes it after.
If the server cannot start, the tests that need it fail with the reason: they
are never skipped quietly.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import pytest


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fail(message: str) -> None:
    pytest.fail(
        f"PostgreSQL storage test cannot run: {message}. `make test` installs Debian's "
        "postgresql (apt-get install postgresql); install it, or run as a user who may.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """One local Ray for the session; the runners join it instead of starting their own."""
    import ray

    from nas import RayOptions, connect_ray

    started = connect_ray(RayOptions()) if not ray.is_initialized() else False
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL server on loopback, for this test session."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        _fail("initdb and pg_ctl are not installed")
    # PostgreSQL refuses to run as root: run it as the postgres user Debian creates.
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _fail("running as root and there is no postgres user to run the server as")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = tempfile.mkdtemp(prefix="cnas-pg-")
    os.chmod(root, 0o755)
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data = os.path.join(root, "data")
    port = _free_port()
    log = os.path.join(root, "server.log")
    try:
        steps = [
            [initdb, "-D", data, "-A", "trust", "-U", "cnas", "--no-sync", "-E", "UTF8"],
            [
                pg_ctl,
                "-D",
                data,
                "-l",
                log,
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
        ]
        for step in steps:
            done = subprocess.run(prefix + step, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                detail = (done.stderr or done.stdout).strip().splitlines()
                tail = ""
                if os.path.exists(log):
                    with open(log, encoding="utf-8", errors="replace") as file:
                        tail = " | ".join(file.read().strip().splitlines()[-3:])
                _fail(f"{os.path.basename(step[0])} failed: {detail[-1] if detail else ''} {tail}")
        yield f"postgresql://cnas@127.0.0.1:{port}/postgres"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(
                [*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
