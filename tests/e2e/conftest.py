"""Real-browser fixtures: a `streamlit run` server on a free port and Debian's chromium.

Playwright never downloads a browser here; it drives /usr/bin/chromium (`make browser`
installs it). In CI (CI=true) a missing browser is a failure, not a skip, so the suite
can never pass green without having run in a browser.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_LIMIT = 90  # seconds to wait for /_stcore/health before giving up (not an assertion)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"chromium not found at {CHROMIUM}: run `make browser` (apt-get install chromium)"
    if in_ci():
        pytest.fail(message + " -- real-browser tests must run in CI", pytrace=False)
    pytest.skip(message)


@dataclass
class Server:
    url: str
    db_path: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"streamlit exited with code {proc.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"streamlit was not healthy after {STARTUP_LIMIT}s:\n{log_path.read_text()}")


def start_server(db_path: Path, log_path: Path) -> tuple[Server, subprocess.Popen[bytes]]:
    """`streamlit run dashboard.py` with SALES_DB pointing at `db_path`."""
    port = free_port()
    env = os.environ | {"SALES_DB": str(db_path), "PYTHONUNBUFFERED": "1"}
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"),
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so teardown ends exactly it
    )  # fmt: skip
    log_file.close()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log_path)
    except BaseException:
        stop_server(proc)
        raise
    return Server(url, db_path, log_path), proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """End the server we started (its own process group, by id), politely then firmly."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


@pytest.fixture
def streamlit_server(tmp_path: Path) -> Iterator[Callable[[Path], Server]]:
    """Start `streamlit run dashboard.py` on a database (seed it first); stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(db_path: Path) -> Server:
        server, proc = start_server(db_path, tmp_path / f"streamlit-{len(started)}.log")
        started.append(proc)
        return server

    try:
        yield start
    finally:
        for proc in started:
            stop_server(proc)


@pytest.fixture(scope="module")
def module_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[Callable[[Path], Path]], Server]]:
    """`module_server(build)`: one server for a module's tests (per test process), on the
    database `build(folder)` makes the first time it is asked for.

    Why: a server start costs a few CPU seconds and a build of the database more; tests
    that only read the same database (each in its own browser context, so its own
    session) can share both. A test that changes the database, or needs a fresh server,
    takes `streamlit_server`.
    """
    folder = tmp_path_factory.mktemp("module-server")
    running: list[tuple[Server, subprocess.Popen[bytes]]] = []

    def get(build: Callable[[Path], Path]) -> Server:
        if not running:
            running.append(start_server(build(folder), folder / "streamlit.log"))
        return running[0][0]

    try:
        yield get
    finally:
        for _, proc in running:
            stop_server(proc)


@pytest.fixture(scope="module")
def module_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str, Callable[[Path], Path]], Server]]:
    """`module_servers(key, build)`: like `module_server`, one server per `key` (say, per
    database) for a module's tests in this test process, started on the database
    `build(folder)` makes the first time that key is asked for."""
    running: dict[str, tuple[Server, subprocess.Popen[bytes]]] = {}

    def get(key: str, build: Callable[[Path], Path]) -> Server:
        if key not in running:
            folder = tmp_path_factory.mktemp(f"module-server-{key}")
            running[key] = start_server(build(folder), folder / "streamlit.log")
        return running[key][0]

    try:
        yield get
    finally:
        for _, proc in running.values():
            stop_server(proc)


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Browser]:
    """One chromium per test process (xdist worker), shared by its browser tests.

    Why: launching Playwright's driver and chromium cost a few CPU seconds per test. What a
    test could leave behind lives in a browser context (cookies, storage, pages), and each
    test gets a new one (`browser_page`), closed with any other it opened.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    """A fresh page in a fresh context of the worker's chromium (Playwright's sync API)."""
    from playwright.sync_api import expect

    # expect() waits 5 s by default, which a first page load on a busy 2-core machine can
    # exceed; the waits below are upper bounds, never measured.
    expect.set_options(timeout=30_000)
    assert browser.is_connected(), "the shared chromium has gone (an earlier test crashed it)"
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
    finally:
        for opened in list(browser.contexts):  # this test's, and any it opened itself
            opened.close()
