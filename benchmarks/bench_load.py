"""Load benchmark: N managers on the real app at once, and an import landing among them.

Why: on review morning twenty managers open the dashboard within a minute, each with their
own team filter (issue 15, item 2). This starts the real app (``streamlit run dashboard.py``
with ``$SALES_DB`` pointing at a copy of a generated 1,000,000-opportunity database, no
accounts: the README's open mode, in which a request from this machine is sales operations)
and drives N concurrent sessions through Overview, Reps, Funnel and Forecast, each session
with its own filters in the URL query string (team, and month or quarter), as a shared link
would carry them.

**Client: Streamlit's own websocket protocol, not browser pages.** Each session is one
websocket on ``/_stcore/stream`` speaking the protobuf messages the browser speaks
(``BackMsg.rerun_script`` with the page and the query string, exactly what the front end
sends on navigation; then every ``ForwardMsg`` the server sends back). On this 2-core
machine twenty chromium pages would spend the same two cores laying out React and plotly
that the server needs, so a p95 at N = 20 would mostly measure the browser; managers'
browsers run on their own laptops. The protocol client costs almost nothing (one asyncio
process), so the times are the server's. The browser's own paint after the last message is
therefore not included; the real-browser tests (tests/e2e) cover that the pages draw.

**Rendered** means: the server sent the run's ``script_finished`` (so every element of the
page has been sent and the "Running..." status is gone) with status "finished
successfully", the page's own title (its ``st.title``: "Overview", ...) was among the
elements, and no exception or error box was. Anything else is an **error** and is listed:
an exception element, an error box (the app's friendly "Sorry, ... failed" sentences), a
run that ended otherwise, a wrong page, a dropped connection, or no answer within
``--timeout``.

**Phases**, each on a fresh server over a fresh copy of the database (so every N starts
with cold caches and its own peak memory): for each N in ``--sessions`` (default 1, 5, 20)
all N sessions start at once (the worst minute of review morning) and each walks the four
pages ``--repeat`` times (default 1). Then the **import** phase: ``--import-sessions``
readers (default the largest N) walk the pages over and over; once each has walked them
once, an export of ``--import-rows`` new deals (default a tenth of ``--rows``: 100,000;
``gen_opportunities``, a Salesforce report) lands, and each reader walks them once more
after it has landed. The import goes in the way the app offers while it runs: sales
operations uploading it on the Data page (a headless chromium through Playwright, the one
browser in the run). ``python -m analytics import`` is tried first in the same phase and
reported: DuckDB lets one process hold a database file for writing, so with the dashboard
running the command line is refused in plain words and changes nothing (its own message
says to use the Data page). Readers must see the old state or the new one: every page view
reads the sidebar's "N deals in the database." and must show the old count or the new one
(old + new deals), never another number, never an error; afterwards the database holds
exactly old + new deals and one more import.

**Reported** per phase: median and p95 seconds until each page is rendered and over all
views, errors, the server's peak RSS (``VmHWM`` of the server process, from /proc), and
DuckDB's memory: a sampler thread inside the server process (``load_server``, below; the
app itself is unchanged) reads ``duckdb_memory()`` (the buffer manager's memory by tag) and
``duckdb_temporary_files()`` every 0.2 s through the app's own cached connection once the
first page has opened it; the peak of the total is printed, with ``memory_limit``. The
baseline is N = 1 of the same run: each N's p95 is printed as a ratio to it, against the
goal (p95 at N = 20 at most 3x the p95 at N = 1, no errors, no lost or half-written
import). Figures then go out as a table and as one JSON line (``LOAD_JSON {...}``).

The generated database (``gen_kpi_db``) and export are cached under ``--work-dir``
(default ``/tmp/bench_load``), outside the repository; each phase copies the database.

Usage::

    python -m benchmarks.bench_load                          # 1,000,000 deals, N = 1, 5, 20
    python -m benchmarks.bench_load --rows 300 --sessions 1,2  # what the test suite runs
    python -m benchmarks --only load --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    PROJECT_ROOT,
    format_table,
    load_average,
    median,
    new_parser,
    read_status_kb,
)

NAME = "load"
PAGES: dict[str, str] = {  # URL path ("" = the default page) -> the page's title (st.title)
    "": "Overview",
    "reps": "Reps",
    "funnel": "Funnel",
    "forecast": "Forecast",
}
PROBE_ENV = "BENCH_LOAD_PROBE"  # file the server's memory sampler appends JSON lines to
DEALS_RE = re.compile(r"([\d,]+) deals in the database")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
GOAL_RATIO = 3.0
STARTUP_LIMIT = 180.0


# --- inside the server process: the memory sampler ---------------------------------------


def _sample_forever(out: Path, interval: float) -> None:
    """Append the server's DuckDB memory to `out` every `interval` seconds.

    Reads through the app's own cached connection (pages/_ui.connection) once a page has
    imported pages._ui and opened it, so it sees the very DuckDB instance the sessions use;
    before that there is nothing to measure. Never raises: a failed sample is skipped.
    """
    cur = None
    while True:
        time.sleep(interval)
        try:
            if cur is None:
                ui = sys.modules.get("pages._ui")
                if ui is None:
                    continue
                cur = ui.connection().cursor()
            used, temp = cur.execute(
                "SELECT (SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()),"
                "       (SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files())"
            ).fetchone()
            limit = cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            line = json.dumps({"t": time.time(), "duckdb_bytes": int(used),
                               "temp_bytes": int(temp), "limit": str(limit)})  # fmt: skip
            with out.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except Exception:  # the app's connection may be mid-rollover; try again next tick
            cur = None


def load_server() -> None:
    """``python -c "from benchmarks.bench_load import load_server; load_server()" run ...``:
    `streamlit run` itself, plus the memory sampler thread when $BENCH_LOAD_PROBE is set."""
    probe = os.environ.get(PROBE_ENV)
    if probe:
        threading.Thread(target=_sample_forever, args=(Path(probe), 0.2), daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    sys.exit(cli.main(prog_name="streamlit"))


# --- the server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    db_path: Path
    probe: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_kb(self) -> int | None:
        return read_status_kb("VmHWM", self.proc.pid)

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the server so far (all its threads, DuckDB's too).

        The machine is shared: wall times move with other users' load, the CPU the server
        spent on the same views much less, so a change in the app reads better from this.
        """
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def duckdb_peak(self) -> dict[str, Any]:
        samples = []
        if self.probe.is_file():
            for line in self.probe.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    samples.append(json.loads(line))
        if not samples:
            return {"samples": 0, "peak_bytes": None, "peak_temp_bytes": None, "limit": None}
        return {
            "samples": len(samples),
            "peak_bytes": max(s["duckdb_bytes"] for s in samples),
            "peak_temp_bytes": max(s["temp_bytes"] for s in samples),
            "limit": samples[-1]["limit"],
        }

    def log_tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


def start_server(source_db: Path, run_dir: Path) -> Server:
    """The real app on a fresh copy of `source_db` in `run_dir` (uploads go beside it)."""
    run_dir.mkdir(parents=True)
    db_path = run_dir / "sales.duckdb"
    shutil.copyfile(source_db, db_path)
    port = _free_port()
    probe = run_dir / "duckdb_memory.jsonl"
    log = run_dir / "streamlit.log"
    env = os.environ | {
        "SALES_DB": str(db_path),
        PROBE_ENV: str(probe),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                    os.environ.get("PYTHONPATH")])),
    }  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-c",
                "from benchmarks.bench_load import load_server; load_server()",
                "run", str(PROJECT_ROOT / "dashboard.py"),
                "--server.headless", "true",
                "--server.port", str(port),
                "--server.address", "127.0.0.1",
                "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false",
            ],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_server ends exactly it
        )  # fmt: skip
    server = Server(proc, port, db_path, probe, log)
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    stop_server(server)
    raise RuntimeError(f"streamlit not healthy after {STARTUP_LIMIT:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """End the server this benchmark started (its own process group, by id)."""
    proc = server.proc
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


# --- the client: one session = one websocket ------------------------------------------------


@dataclass
class View:
    """One page view of one session: how long until rendered, and what it showed."""

    session: int
    page: str
    query: str
    start: float  # time.time() when the rerun was sent
    seconds: float
    error: str | None = None
    deals: int | None = None  # the sidebar's "N deals in the database."


@dataclass
class SessionPlan:
    index: int
    query: str  # the URL query string: this session's own filters


def session_plans(n: int, teams: Sequence[str]) -> list[SessionPlan]:
    """Session i: team i mod teams, by month (the app's default) or by quarter.

    Eight teams and two period kinds give sixteen different filters, so at N = 20 a few
    sessions share one (as managers of one team do) and most do not.
    """
    from urllib.parse import urlencode

    plans = []
    for i in range(n):
        params = {"team": teams[i % len(teams)]} if teams else {}
        if (i // max(1, len(teams))) % 2 == 1:
            params["kind"] = "Quarter"
        plans.append(SessionPlan(i, urlencode(params)))
    return plans


def _describe_alert(body: str) -> str:
    return " ".join(body.split())[:240]


async def view_page(ws: Any, plan: SessionPlan, page: str, timeout: float) -> View:
    """Ask for `page` with the session's query string and read until the run has finished."""
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = BackMsg()
    msg.rerun_script.query_string = plan.query
    msg.rerun_script.page_name = page
    msg.rerun_script.page_script_hash = ""
    start_wall, start = time.time(), time.perf_counter()
    await ws.send(msg.SerializeToString())
    titles: list[str] = []
    problems: list[str] = []
    deals = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                fwd = ForwardMsg()
                fwd.ParseFromString(await ws.recv())
                kind = fwd.WhichOneof("type")
                if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                    element = fwd.delta.new_element
                    what = element.WhichOneof("type")
                    if what == "heading" and element.heading.tag == "h1":
                        titles.append(element.heading.body)
                    elif what == "exception":
                        problems.append(f"exception: {element.exception.message[:240]}")
                    elif what == "alert" and element.alert.format == Alert.ERROR:
                        problems.append(f"error box: {_describe_alert(element.alert.body)}")
                    elif what == "markdown" and (found := DEALS_RE.search(element.markdown.body)):
                        deals = int(found.group(1).replace(",", ""))
                elif kind == "page_not_found":
                    problems.append("page not found")
                elif kind == "script_finished":
                    status = fwd.script_finished
                    if status != ForwardMsg.FINISHED_SUCCESSFULLY:
                        problems.append(f"run ended with status {status}")
                    break
    except TimeoutError:
        problems.append(f"not rendered within {timeout:.0f} s")
    seconds = time.perf_counter() - start
    if not problems and PAGES[page] not in titles:
        problems.append(f"page title {PAGES[page]!r} not shown (titles: {titles})")
    return View(plan.index, page, plan.query, start_wall, seconds,
                "; ".join(problems) or None, deals)  # fmt: skip


async def run_session(
    url: str,
    plan: SessionPlan,
    *,
    walks: int,
    timeout: float,
    until: asyncio.Event | None = None,
    walked: asyncio.Event | None = None,
) -> list[View]:
    """One manager: walk the four pages `walks` times; with `until`, keep walking until it is
    set and then once more (`walked` is set after the first walk)."""
    import websockets

    views: list[View] = []
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    try:
        async with websockets.connect(
            ws_url, subprotocols=["streamlit"], max_size=None, ping_interval=None,
            open_timeout=timeout, close_timeout=5,
        ) as ws:  # fmt: skip
            done = 0
            while True:
                landed_before = until is not None and until.is_set()
                for page in PAGES:
                    views.append(await view_page(ws, plan, page, timeout))
                done += 1
                if walked is not None and done == 1:
                    walked.set()
                if until is None and done >= walks:
                    break
                if landed_before:  # this walk started after the import had landed
                    break
    except Exception as exc:  # a dropped connection is an error of this session, not a crash
        views.append(View(plan.index, "connection", plan.query, time.time(), 0.0,
                          f"{type(exc).__name__}: {exc}"[:300]))  # fmt: skip
    finally:
        if walked is not None:  # never leave the import phase waiting on a dead session
            walked.set()
    return views


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): with few values, p95 is the slowest."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))
    return float(ordered[int(rank) - 1])


def summarise(views: Sequence[View]) -> dict[str, Any]:
    """Median and p95 seconds per page and over all views, and the errors."""
    out: dict[str, Any] = {"views": len(views), "pages": {}}
    ok = [v for v in views if v.error is None]
    for page, title in PAGES.items():
        times = [v.seconds for v in ok if v.page == page]
        out["pages"][title] = {
            "views": len(times),
            "median_s": median(times) if times else None,
            "p95_s": percentile(times, 95) if times else None,
        }
    times = [v.seconds for v in ok]
    out["all"] = {
        "median_s": median(times) if times else None,
        "p95_s": percentile(times, 95) if times else None,
    }
    out["errors"] = [f"session {v.session} {PAGES.get(v.page, v.page)} ({v.query}): {v.error}"
                     for v in views if v.error is not None]  # fmt: skip
    return out


# --- phases -------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    sessions: int
    summary: dict[str, Any]
    peak_rss_mb: float | None
    duckdb: dict[str, Any]
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    cpu_s: float | None = None  # the server's CPU seconds over the phase (Server.cpu_seconds)


def _teams(db_path: Path) -> list[str]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT team FROM reps WHERE team IS NOT NULL ORDER BY team"
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def _finish(server: Server) -> tuple[float | None, dict[str, Any], float | None]:
    rss = server.peak_rss_kb()
    return (None if rss is None else rss / 1024.0), server.duckdb_peak(), server.cpu_seconds()


def run_phase(source_db: Path, work: Path, n: int, teams: Sequence[str], walks: int,
              timeout: float) -> Phase:  # fmt: skip
    server = start_server(source_db, work / f"n{n}")
    try:
        plans = session_plans(n, teams)
        started = time.perf_counter()
        cpu_before = server.cpu_seconds()  # leaves out starting streamlit itself

        async def everyone() -> list[list[View]]:
            return await asyncio.gather(
                *(run_session(server.url, p, walks=walks, timeout=timeout) for p in plans)
            )

        views = [v for per in asyncio.run(everyone()) for v in per]
        wall = time.perf_counter() - started
        rss, duck, cpu = _finish(server)
        if cpu is not None and cpu_before is not None:
            cpu -= cpu_before
    finally:
        stop_server(server)
    return Phase(f"N={n}", n, summarise(views), rss, duck, wall, cpu_s=cpu)


def _count_state(db_path: Path) -> tuple[int, int]:
    """(deals, imports) of a database no process holds (the server has stopped)."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return tuple(  # type: ignore[return-value]
            con.execute(
                "SELECT (SELECT count(*) FROM opportunities), (SELECT count(*) FROM imports)"
            ).fetchone()
        )
    finally:
        con.close()


def try_cli_import(export: Path, db_path: Path) -> dict[str, Any]:
    """`python -m analytics import` against the database the running dashboard holds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "analytics", "import", str(export), "--db", str(db_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    text = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return {"exit": done.returncode, "seconds": round(time.perf_counter() - started, 2),
            "said": text[-1][:300] if text else ""}  # fmt: skip


async def upload_on_data_page(url: str, export: Path, timeout: float) -> dict[str, Any]:
    """Sales operations import `export` on the Data page of the running app (Playwright)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})
                          ).new_page()  # fmt: skip
            page.set_default_timeout(timeout * 1000)
            await page.goto(f"{url}/data")
            await page.get_by_role("heading", name="Data").wait_for()
            await page.locator('input[type="file"]').set_input_files(str(export))
            detected = page.locator('[data-testid="stMarkdownContainer"]').filter(
                has_text="Detected kind"
            )
            await detected.filter(has_text="opportunities").first.wait_for()
            started = time.perf_counter()
            await page.get_by_role("button", name="Import").click()
            # the import's own result box names the file (the sidebar has boxes of its own)
            outcome = page.locator('[data-testid^="stAlertContent"]').filter(has_text=export.name)
            await outcome.first.wait_for()
            seconds = time.perf_counter() - started
            text = " ".join((await outcome.first.inner_text()).split())
            kind = await outcome.first.get_attribute("data-testid")
            return {"ok": kind == "stAlertContentSuccess", "seconds": round(seconds, 2),
                    "said": text[:300], "landed_at": time.time()}  # fmt: skip
        finally:
            await browser.close()


def run_import_phase(source_db: Path, export: Path, new_deals: int, work: Path, n: int,
                     teams: Sequence[str], timeout: float) -> Phase:  # fmt: skip
    before = _count_state(source_db)
    server = start_server(source_db, work / "import")
    writer: dict[str, Any] = {}
    try:
        plans = session_plans(n, teams)
        started = time.perf_counter()
        cpu_before = server.cpu_seconds()

        async def scenario() -> list[list[View]]:
            landed = asyncio.Event()
            walked = [asyncio.Event() for _ in plans]
            readers = [
                asyncio.create_task(run_session(server.url, p, walks=1, timeout=timeout,
                                                until=landed, walked=w))
                for p, w in zip(plans, walked, strict=True)
            ]  # fmt: skip
            await asyncio.gather(*(w.wait() for w in walked))
            writer["cli"] = await asyncio.to_thread(try_cli_import, export, server.db_path)
            writer["started_at"] = time.time()
            try:
                writer["data_page"] = await upload_on_data_page(server.url, export, timeout)
            except Exception as exc:
                writer["data_page"] = {"ok": False, "said": f"{type(exc).__name__}: {exc}"[:300]}
            writer["done_at"] = time.time()
            landed.set()
            return await asyncio.gather(*readers)

        views = [v for per in asyncio.run(scenario()) for v in per]
        wall = time.perf_counter() - started
        rss, duck, cpu = _finish(server)
        if cpu is not None and cpu_before is not None:
            cpu -= cpu_before
    finally:
        stop_server(server)
    after = _count_state(server.db_path)
    old, new = before[0], before[0] + new_deals
    seen = sorted({v.deals for v in views if v.deals is not None})
    during = [v for v in views if writer.get("started_at", 0) <= v.start + v.seconds
              and v.start <= writer.get("done_at", 0)]  # fmt: skip
    summary = summarise(views)
    extra = {
        "writer": writer,
        "deals_before": old, "deals_expected_after": new, "deals_after": after[0],
        "imports_before": before[1], "imports_after": after[1],
        "deal_counts_seen": seen,
        "other_counts_seen": [c for c in seen if c not in (old, new)],
        "views_during_import": len(during),
        "errors_during_import": sum(v.error is not None for v in during),
        "during": summarise(during)["all"],
    }  # fmt: skip
    return Phase(f"import, N={n}", n, summary, rss, duck, wall, extra, cpu)


# --- report -------------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def report(phases: Sequence[Phase], args: argparse.Namespace, load_before: str) -> int:
    base = phases[0].summary["all"]["p95_s"] if phases else None
    rows = []
    for ph in phases:
        pages = ph.summary["pages"]
        p95 = ph.summary["all"]["p95_s"]
        ratio = "-" if not base or p95 is None else f"{p95 / base:.2f}x"
        duck = ph.duckdb["peak_bytes"]
        rows.append([
            ph.name, ph.summary["views"],
            *(f"{_s(pages[t]['median_s'])} / {_s(pages[t]['p95_s'])}" for t in PAGES.values()),
            f"{_s(ph.summary['all']['median_s'])} / {_s(p95)}", ratio,
            len(ph.summary["errors"]), _mb(ph.peak_rss_mb),
            _mb(None if duck is None else duck / 2**20), f"{ph.wall_s:.0f}",
            "-" if ph.cpu_s is None else f"{ph.cpu_s:.1f}",
        ])  # fmt: skip
    print(format_table(
        ["phase", "views", *(f"{t} med/p95 s" for t in PAGES.values()), "all med/p95 s",
         "p95 vs baseline", "errors", "server peak RSS MB", "DuckDB peak MB", "wall s",
         "server CPU s"],
        rows,
    ))  # fmt: skip
    print(f"baseline: N={phases[0].sessions} of this run (p95 over all its views {_s(base)} s)")
    status = 0
    for ph in phases:
        for line in ph.summary["errors"][:10]:
            print(f"ERROR {ph.name}: {line}")
        if ph.summary["errors"]:
            status = 1
    goal_n = max((ph for ph in phases if "import" not in ph.name), key=lambda p: p.sessions)
    worst = goal_n.summary["all"]["p95_s"]
    verdict_ratio = None if not base or worst is None else worst / base
    imp = next((ph for ph in phases if "import" in ph.name), None)
    if imp is not None:
        x = imp.extra
        w = x["writer"]
        print(f"import phase: {imp.sessions} readers walking the pages while "
              f"{x['deals_expected_after'] - x['deals_before']:,} new deals land")  # fmt: skip
        cli = w.get("cli", {})
        print(f"  python -m analytics import while the dashboard runs: exit {cli.get('exit')}, "
              f"{cli.get('seconds')} s: {cli.get('said')}")  # fmt: skip
        dp = w.get("data_page", {})
        print(f"  Data page upload: {'landed' if dp.get('ok') else 'FAILED'} in "
              f"{dp.get('seconds')} s: {dp.get('said')}")  # fmt: skip
        print(f"  page views overlapping the import: {x['views_during_import']}, errors among "
              f"them {x['errors_during_import']}, p95 {_s(x['during']['p95_s'])} s")  # fmt: skip
        print(
            f"  deal counts readers saw: {x['deal_counts_seen']} (old {x['deals_before']:,}, "
            f"new {x['deals_expected_after']:,}); any other: {x['other_counts_seen'] or 'none'}"
        )
        print(f"  database after: {x['deals_after']:,} deals (expected "
              f"{x['deals_expected_after']:,}), imports {x['imports_before']} -> "
              f"{x['imports_after']}")  # fmt: skip
        intact = (dp.get("ok") and x["deals_after"] == x["deals_expected_after"]
                  and x["imports_after"] == x["imports_before"] + 1
                  and not x["other_counts_seen"])  # fmt: skip
        print(f"  import whole and readers saw old or new only: {'yes' if intact else 'NO'}")
        if not intact:
            status = 1
    errors = sum(len(ph.summary["errors"]) for ph in phases)
    ok = errors == 0 and verdict_ratio is not None and verdict_ratio <= GOAL_RATIO
    print(f"goal: no errors and p95 at N={goal_n.sessions} within {GOAL_RATIO:.0f}x the "
          f"p95 at N={phases[0].sessions}: ratio "
          f"{'-' if verdict_ratio is None else f'{verdict_ratio:.2f}'}, errors {errors}: "
          f"{'PASS' if ok else 'MISS'}")  # fmt: skip
    print(f"load before: {load_before}; after: {load_average()}")
    print("LOAD_JSON " + json.dumps({
        "rows": args.rows, "sessions": args.sessions, "baseline_p95_s": base,
        "ratio": verdict_ratio, "goal_ratio": GOAL_RATIO, "pass": ok,
        "load_before": load_before, "load_after": load_average(),
        "phases": [asdict(ph) for ph in phases],
    }, default=str))  # fmt: skip
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(
        "benchmarks.bench_load",
        "N concurrent sessions on the real app, and an import among them.",
    )
    parser.set_defaults(repeat=1)
    parser.add_argument(
        "--sessions",
        default="1,5,20",
        help="comma-separated N; the first is the baseline (default 1,5,20)",
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=None,
        help="new deals the import phase lands (default rows / 10)",
    )
    parser.add_argument(
        "--import-sessions",
        type=int,
        default=None,
        help="readers during the import (default the largest N)",
    )
    parser.add_argument("--no-import", action="store_true", help="skip the import phase")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds a page may take before it counts as an error",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path("/tmp/bench_load"),
        help="cache of the generated data and the phases' copies",
    )
    parser.add_argument("--keep", action="store_true", help="keep the phases' databases/logs")
    return parser  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks import gen_kpi_db, gen_opportunities

    args = build_parser().parse_args(argv)
    counts = [int(x) for x in str(args.sessions).split(",") if x.strip()]
    if not counts or min(counts) < 1:
        raise SystemExit("--sessions needs one or more positive numbers")
    load_before = load_average()
    print(
        f"load benchmark: {args.rows:,} deals, N = {', '.join(map(str, counts))}, "
        f"{args.repeat} walk(s) of {', '.join(PAGES.values())}; load {load_before}"
    )
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    source = gen_kpi_db.generate(args.rows, max(2, args.rows * 5), seed=args.seed,
                                 out_dir=args.work_dir)  # fmt: skip
    print(
        f"database {source} ({source.stat().st_size / 2**20:,.0f} MB, "
        f"ready in {time.perf_counter() - started:.0f} s)"
    )
    teams = _teams(source)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.work_dir))
    phases: list[Phase] = []
    try:
        for n in counts:
            phase = run_phase(source, work, n, teams, args.repeat, args.timeout)
            print(f"  {phase.name}: {phase.summary['views']} views in {phase.wall_s:.0f} s, "
                  f"{len(phase.summary['errors'])} errors", flush=True)  # fmt: skip
            phases.append(phase)
        if not args.no_import:
            new_deals = args.import_rows or max(1, args.rows // 10)
            export = gen_opportunities.generate(new_deals, args.seed, out_dir=args.work_dir)
            readers = args.import_sessions or max(counts)
            phase = run_import_phase(source, export, new_deals, work, readers, teams,
                                     args.timeout)  # fmt: skip
            print(
                f"  {phase.name}: {phase.summary['views']} views in {phase.wall_s:.0f} s",
                flush=True,
            )
            phases.append(phase)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return report(phases, args, load_before)


if __name__ == "__main__":
    raise SystemExit(main())
