"""A throwaway PostgreSQL server on a unix socket, for running the coordinator tests against it.

``find_bindir()`` locates ``initdb`` and ``pg_ctl`` (on ``PATH`` or in Debian's
``/usr/lib/postgresql/*/bin``). :class:`PgServer` runs ``initdb`` (trust
authentication, no TCP: ``listen_addresses = ''``, fsync off) in a directory of
its own, starts the server with its socket there, creates one database per
test and stops and removes everything at the end.

PostgreSQL refuses to run as root: when the tests run as root, the server runs
as the ``postgres`` system user (created by Debian's package) in a fresh
``/tmp/tyst-pg-*`` directory owned by it, because pytest's ``tmp_path`` lives
under a root-only (0700) directory that user cannot enter.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_counter = itertools.count(1)


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or ``None`` if PostgreSQL is absent."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        real = Path(os.path.realpath(initdb)).parent
        if (real / "pg_ctl").exists():
            return real
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def unavailable_reason() -> str | None:
    """Why no throwaway server can be started here, or ``None`` if one can."""
    if find_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl) not found; "
            "install them with: apt-get install -y postgresql"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
    return None


class PgServer:
    """A PostgreSQL server in ``base`` (see the module docstring)."""

    def __init__(self, bindir: Path, base: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.owned_base = self.as_root
        if self.as_root:
            base = Path(tempfile.mkdtemp(prefix="tyst-pg-"))
            user = pwd.getpwnam("postgres")
            os.chown(base, user.pw_uid, user.pw_gid)
            self._run_as: dict[str, Any] = {
                "user": user.pw_uid,
                "group": user.pw_gid,
                "extra_groups": [],
            }
        else:
            self._run_as = {}
        self.base = base
        self.data = base / "data"
        self.socket_dir = base / "sock"
        self.log = base / "server.log"
        self._admin: Any = None

    def _run(self, *args: str) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        result = subprocess.run(
            args,
            cwd=self.base,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **self._run_as,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()} {log}"
            )

    def start(self) -> None:
        """``initdb`` and start the server (waits until it accepts connections)."""
        if self.as_root:
            self.socket_dir.mkdir()
            os.chown(self.socket_dir, self._run_as["user"], self._run_as["group"])
        else:
            self.socket_dir.mkdir(parents=True)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--locale=C",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-k {self.socket_dir} -c listen_addresses='' -F"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        """Stop the server and, if this object created it, remove its directory."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        finally:
            if self.owned_base:
                shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server's unix socket."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        if self._admin is None:
            self._admin = psycopg.connect(
                host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
            )
        name = f"tyst_test_{os.getpid()}_{next(_counter)}"
        self._admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
