"""Session fixtures: one live `hivesyncd dev` server for the whole test run.

The binary is $HIVESYNC_BIN, or built from the repository (found relative to
this file) with `go build ./cmd/hivesyncd`. The server runs with a fresh data
directory (dev mode starts a private Postgres in it) on a free local port, and
is stopped with SIGTERM (SIGKILL after 20 s) when the session ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REPO_ROOT = Path(__file__).resolve().parents[3]
SDK_DIR = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0

# The configuration every test relies on (see the server contract). The server
# simulates one that has moved on past this SDK: it requires plugin protocol
# >= 2 and is at 3, while the SDK's default (hivesync.PLUGIN_PROTOCOL_VERSION)
# is 1. Happy-path tests therefore announce a version explicitly; the SDK's
# default is what the "outdated plugin" tests exercise.
MIN_PLUGIN_PROTOCOL_VERSION = 2
CURRENT_PLUGIN_PROTOCOL_VERSION = 3
MIN_CLIENT_VERSION = 3
UPGRADE_URL = "https://hivesync.test/download"
# The device flow's minimum polling interval: short, so sign-ins take ~1 s.
DEVICE_POLL_INTERVAL_S = 1
# The event stream's ping / session re-check interval (the server's default is 30 s).
WS_PING_INTERVAL_S = 1
# How many missed events the event stream replays before it sends rehydrate:
# more than test_events' forced-disconnect scenario can ever miss (32 saves).
WS_REPLAY_WINDOW = 40


@dataclass(frozen=True)
class Server:
    """A running hivesyncd."""

    base_url: str
    log_path: Path
    binary: Path
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_binary(tmp: Path) -> Path:
    if env_bin := os.environ.get("HIVESYNC_BIN"):
        path = Path(env_bin)
        if not path.is_file():
            pytest.exit(f"HIVESYNC_BIN={env_bin} does not exist", returncode=1)
        return path
    out = tmp / "hivesyncd"
    proc = subprocess.run(  # noqa: S603
        ["go", "build", "-o", str(out), "./cmd/hivesyncd"],  # noqa: S607
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.exit(f"go build ./cmd/hivesyncd failed:\n{proc.stdout}{proc.stderr}", returncode=1)
    return out


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no log>"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """Starts hivesyncd once per session and yields its base URL."""
    tmp = Path(tempfile.mkdtemp(prefix="hivesync-pytest-"))
    # When run as root, dev mode's Postgres runs as an unprivileged user that
    # must be able to traverse into the data directory (mkdtemp makes 0700).
    tmp.chmod(0o755)
    log_path = tmp / "hivesyncd.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        binary = _server_binary(tmp)
        port = _free_port()
        data_dir = tmp / "data"
        data_dir.mkdir()
        env = {
            **os.environ,
            "HIVESYNC_HTTP_ADDR": f"127.0.0.1:{port}",
            "HIVESYNC_DATA_DIR": str(data_dir),
            "HIVESYNC_MIN_PLUGIN_PROTOCOL_VERSION": str(MIN_PLUGIN_PROTOCOL_VERSION),
            "HIVESYNC_CURRENT_PLUGIN_PROTOCOL_VERSION": str(CURRENT_PLUGIN_PROTOCOL_VERSION),
            "HIVESYNC_MIN_CLIENT_VERSION": str(MIN_CLIENT_VERSION),
            "HIVESYNC_UPGRADE_URL": UPGRADE_URL,
            "HIVESYNC_DEVICE_POLL_INTERVAL": f"{DEVICE_POLL_INTERVAL_S}s",
            # Reuse-detection tests replay a refresh token at once; the
            # server's default 30 s retry grace would accept it.
            "HIVESYNC_REFRESH_REUSE_GRACE": "1ms",
            # The OAuth endpoints' per-IP limit (default 30/min) would throttle
            # a suite that signs in dozens of times from 127.0.0.1; the SDK's
            # handling of 429 is tested against a scripted server instead.
            "HIVESYNC_RATE_LIMIT_AUTH": "1000/min",
            # The event stream's ping and session re-check (default 30 s): a
            # revoked session is closed within about a second, and ready
            # announces a 1 s heartbeat, so dead connections are noticed in ~2 s.
            "HIVESYNC_WS_PING_INTERVAL": f"{WS_PING_INTERVAL_S}s",
            # A stream that missed more events than this gets rehydrate
            # instead of a replay (default 1000: too many saves for a test).
            "HIVESYNC_WS_REPLAY_WINDOW": str(WS_REPLAY_WINDOW),
        }
        env.pop("HIVESYNC_DATABASE_URL", None)  # dev mode must run its own Postgres
        with log_path.open("wb") as log:
            proc = subprocess.Popen(  # noqa: S603
                [str(binary), "dev"],
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.exit(
                    f"hivesyncd dev exited early with code {proc.returncode}:\n{_tail(log_path)}",
                    returncode=1,
                )
            try:
                with urllib.request.urlopen(f"{base_url}/health/ready", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.exit(
                    f"hivesyncd not ready after {READY_TIMEOUT_S:.0f}s:\n{_tail(log_path)}",
                    returncode=1,
                )
            time.sleep(0.2)
        yield Server(base_url=base_url, log_path=log_path, binary=binary, env=env)
    finally:
        if proc is not None:
            _stop(proc)
        if request.session.testsfailed and log_path.exists():
            # Keep the server log of a failed run for diagnosis (git-ignored).
            shutil.copyfile(log_path, SDK_DIR / ".test-server.log")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    """Base URL of the live server, e.g. http://127.0.0.1:PORT."""
    return server.base_url


@pytest.fixture(scope="session")
def mint_tokens(server: Server) -> Callable[..., dict[str, object]]:
    """``mint_tokens(email, client="mobile")`` runs ``hivesyncd token create``
    against the running server's database (same environment) and returns its
    JSON: access_token, refresh_token, expires_in, expires_at, scope,
    session_id, user_id. The account is created if it does not exist."""

    def mint(email: str, client: str = "mobile") -> dict[str, object]:
        proc = subprocess.run(  # noqa: S603
            [str(server.binary), "token", "create", "--user", email, "--client", client],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"hivesyncd token create failed ({proc.returncode}):\n{proc.stderr}")
        return json.loads(proc.stdout)

    return mint
