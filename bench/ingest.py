"""`make bench-ingest`: the Events API under load, against a ceiling, with exact accounting.

Starts, on loopback only: a private Redis, PostgreSQL (the one answering on BENCH_PG, else a private
cluster), a fresh migrated database, gunicorn (2 sync workers) serving both /api/event and the ceiling
(bench/ceiling.py, a Django view behind the full middleware stack; and bench/wsgi.py's framework-free raw
ceiling, for information), same gunicorn process and flags, and the flusher. Then wrk posts the realistic mix
of bench/ingest.lua at concurrency 50: BENCH_SECONDS to each ceiling, then BENCH_SECONDS to /api/event, and
the script waits for every accepted event to land. Everything it starts it stops (also on Ctrl-C or error);
every step is bounded in time.

Settings (environment): BENCH_SECONDS (30), BENCH_CONNECTIONS (50), BENCH_PG (postgres://postgres@127.0.0.1:5432),
BENCH_DB (humblytics_bench), BENCH_ACCESS_LOG (1: gunicorn writes the Procfile's access log, to a file),
BENCH_PROFILE (a path: py-spy records one gunicorn worker while it holds the GIL during our run: .svg flame
graph, .txt collapsed stacks), BENCH_KEEP (1: keep the logs and wrk outputs).
"""

import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
LUA = ROOT / "bench" / "ingest.lua"

SECONDS = int(os.environ.get("BENCH_SECONDS", "30"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
TAIL_SECONDS = 2  # wrk keeps the load on (tail events) while the last main requests are answered
WARM_SECONDS = 3
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB = os.environ.get("BENCH_DB", "humblytics_bench")
ACCESS_LOG = os.environ.get("BENCH_ACCESS_LOG", "1") == "1"
PROFILE = os.environ.get("BENCH_PROFILE")
KEEP = os.environ.get("BENCH_KEEP") == "1"
DRAIN_LIMIT = 60.0  # seconds we wait for the buffer to drain before calling the rest lost
WHOLE_RUN_LIMIT = 15 * 60
WORKERS = 2

TARGET_RATIO, TARGET_P99_MS, TARGET_DRAIN_S = 0.7, 50.0, 10.0


def say(message):
    print(f"[bench] {message}", flush=True)


class Processes:
    """Everything this run started, stopped in reverse order (TERM, then KILL after a grace period)."""

    def __init__(self):
        self.started = []

    def start(self, name, args, *, env=None, log=None, cwd=ROOT):
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        self.started.append((name, process))
        return process

    def stop_all(self):
        for name, process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    say(f"{name} ignored SIGTERM; killing it")
                    process.kill()
                    process.wait(timeout=5)
        self.started.clear()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, *, timeout, process=None, name=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name or 'service'} did not listen on 127.0.0.1:{port} within {timeout}s")


def ensure_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    say("wrk is missing: installing it (apt-get update && apt-get install -y wrk)")
    subprocess.run(["apt-get", "update"], check=True, timeout=300, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, timeout=300, stdout=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is still missing after apt-get install")
    return path


def answers(url):
    try:
        with psycopg.connect(url + "/postgres", connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def start_private_postgres(procs, workdir):
    """A throw-away cluster when no PostgreSQL answers on BENCH_PG (run as `postgres` when we are root)."""
    bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    data = Path(workdir) / "pgdata"
    data.mkdir()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        [*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    args = [
        *as_postgres,
        str(bindir / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
    ]
    args += ["-c", f"unix_socket_directories={workdir}"]
    process = procs.start("postgres", args, log=Path(workdir) / "postgres.log")
    wait_for_port(port, timeout=30, process=process, name="postgres")
    time.sleep(0.5)
    return f"postgres://postgres@127.0.0.1:{port}"


def fresh_database(pg_url):
    with psycopg.connect(pg_url + "/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')


def django_env(database_url, redis_url):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),
        ENCRYPTION_KEY=secrets.token_urlsafe(32),
        API_KEY_PEPPER=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        TRUSTED_PROXY_COUNT="1",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        EVENT_BUFFER_STREAM="bench:events",
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONUNBUFFERED="1",
    )
    return env


SETUP_SITES = """
from accounts.models import User
from sites.services import site_create
owner = User.objects.create_user(email="bench@bench.test", password=None)
ids = {}
for key, domain, gpc in [("warm", "warm-{run}.bench.test", False), ("main", "main-{run}.bench.test", False),
                         ("tail", "tail-{run}.bench.test", True)]:
    ids[key] = [site_create(owner=owner, domain=domain, respect_gpc=gpc).pk, domain]
import json; print("SITES " + json.dumps(ids))
"""


def manage(env, *args, timeout=180):
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=timeout, capture_output=True, text=True
    )


def run_wrk(wrk, port, *, path, domain, tail_domain, seconds, run, seed, log):
    env = dict(
        os.environ,
        BENCH_PATH=path,
        BENCH_DOMAIN=domain,
        BENCH_TAIL_DOMAIN=tail_domain,
        BENCH_SECONDS=str(seconds),
        BENCH_RUN=run,
        BENCH_SEED=str(seed),
    )
    args = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds + TAIL_SECONDS}s", "--timeout", "5s", "--latency"]
    args += ["-s", str(LUA), f"http://127.0.0.1:{port}{path}"]
    started = time.monotonic()
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds + TAIL_SECONDS + 60)
    ended = time.monotonic()
    Path(log).write_text(result.stdout + result.stderr)
    line = next((line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    stats = json.loads(line.removeprefix("BENCH_JSON "))
    stats["wall_started"], stats["wall_ended"] = started, ended
    return stats


TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _children(pid):
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _postgres_backends():
    """PostgreSQL backends serving the bench database (their command line names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"postgres: ") and f" {DB} ".encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def _system_busy():
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICK


def cpu_snapshot(roles):
    """CPU seconds used so far by each role (gunicorn workers, flusher, Redis, PostgreSQL) and the machine."""
    pids = {
        "gunicorn workers": _children(roles["gunicorn"]),
        "flusher": [roles["flusher"]],
        "redis": [roles["redis"]],
        "postgres (bench db)": _postgres_backends(),
    }
    snap = {role: {pid: _cpu_seconds(pid) for pid in group} for role, group in pids.items()}
    snap["machine"] = _system_busy()
    snap["wrk"] = resource.getrusage(resource.RUSAGE_CHILDREN)
    return snap


def cpu_used(before, after, seconds):
    """Cores used on average between two snapshots, per role; `others` is the rest of the machine."""
    used = {}
    for role, pids in after.items():
        if role in ("machine", "wrk"):
            continue
        used[role] = sum(cpu - before[role].get(pid, 0.0) for pid, cpu in pids.items()) / seconds
    w0, w1 = before["wrk"], after["wrk"]
    used["wrk"] = ((w1.ru_utime - w0.ru_utime) + (w1.ru_stime - w0.ru_stime)) / seconds
    used["machine"] = (after["machine"] - before["machine"]) / seconds
    used["others"] = used["machine"] - sum(v for k, v in used.items() if k != "machine")
    return {role: round(cores, 2) for role, cores in used.items()}


def landed(conn, site_id):
    """Rows that accepted events became: page views, custom events, and page views updated by engagement."""
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM tracking_pageview WHERE site_id = %(s)s),
               (SELECT count(*) FROM tracking_event WHERE site_id = %(s)s),
               (SELECT count(*) FROM tracking_pageview WHERE site_id = %(s)s AND engaged_ms > 0),
               (SELECT coalesce(sum(count), 0) FROM tracking_droppedevents WHERE site_id = %(s)s AND reason = 'bot')
        """,
        {"s": site_id},
    ).fetchone()
    return {"pageviews": row[0], "events": row[1], "engaged": row[2], "bot_drops": int(row[3])}


def buffer_empty(rds):
    if rds.xlen("bench:events"):
        return False
    groups = rds.xinfo_groups("bench:events") if rds.exists("bench:events") else []
    return all(group["pending"] == 0 for group in groups)


def wait_drained(rds, *, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if buffer_empty(rds):
            return True
        time.sleep(0.1)
    return False


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"the whole run took longer than {WHOLE_RUN_LIMIT}s: stopped"))
    signal.alarm(WHOLE_RUN_LIMIT)
    wrk = ensure_wrk()
    procs = Processes()
    workdir = tempfile.mkdtemp(prefix="humblytics-bench-")
    try:
        return bench(wrk, procs, workdir)
    finally:
        procs.stop_all()
        if KEEP:
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def bench(wrk, procs, workdir):
    run = secrets.token_hex(3)
    say(f"run {run}; logs in {workdir}" + ("" if KEEP else " (removed at the end; BENCH_KEEP=1 keeps them)"))

    redis_port = free_port()
    redis_args = ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    redis_process = procs.start("redis", redis_args, log=Path(workdir) / "redis.log")
    wait_for_port(redis_port, timeout=10, process=redis_process, name="redis-server")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"

    pg = PG if answers(PG) else start_private_postgres(procs, workdir)
    say(f"PostgreSQL {pg.split('@')[-1]}, database {DB} (fresh); Redis 127.0.0.1:{redis_port} (private)")
    fresh_database(pg)
    env = django_env(f"{pg}/{DB}", redis_url)
    manage(env, "migrate", "--noinput")
    out = manage(env, "shell", "-c", SETUP_SITES.replace("{run}", run)).stdout
    sites = json.loads(next(line for line in out.splitlines() if line.startswith("SITES "))[6:])

    port = free_port()
    gunicorn = [str(VENV_BIN / "gunicorn"), "bench.wsgi", "--workers", str(WORKERS), "--worker-class", "sync"]
    gunicorn += ["--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "30"]
    if ACCESS_LOG:  # the Procfile's flags, to a file
        gunicorn += [
            "--access-logfile",
            str(Path(workdir) / "access.log"),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(L)ss",
        ]
    web = procs.start("gunicorn", gunicorn, env=env, log=Path(workdir) / "gunicorn.log")
    flusher = procs.start("flusher", [PYTHON, "manage.py", "flush_events"], env=env, log=Path(workdir) / "flusher.log")
    wait_for_port(port, timeout=60, process=web, name="gunicorn")
    rds = redis.Redis.from_url(redis_url)
    pgconn = psycopg.connect(f"{pg}/{DB}", autocommit=True)

    common = {"tail_domain": sites["tail"][1], "run": run}
    say(f"warming up ({WARM_SECONDS}s each)")
    run_wrk(wrk, port, path="/bench/ceiling", domain=sites["warm"][1], seconds=WARM_SECONDS, seed=1,
            log=Path(workdir) / "warm-ceiling.txt", **common)  # fmt: skip
    run_wrk(wrk, port, path="/api/event", domain=sites["warm"][1], seconds=WARM_SECONDS, seed=2,
            log=Path(workdir) / "warm-ours.txt", **common)  # fmt: skip
    if not wait_drained(rds, timeout=DRAIN_LIMIT):
        raise SystemExit("the warm-up never drained: is the flusher running? see flusher.log")

    say(f"ceiling: /bench/ceiling, {CONNECTIONS} connections, {SECONDS}s (+{TAIL_SECONDS}s tail)")
    roles = {"gunicorn": web.pid, "flusher": flusher.pid, "redis": redis_process.pid}
    cpu0 = cpu_snapshot(roles)
    ceiling = run_wrk(wrk, port, path="/bench/ceiling", domain=sites["main"][1], seconds=SECONDS, seed=3,
                      log=Path(workdir) / "ceiling.txt", **common)  # fmt: skip
    ceiling_cpu = cpu_used(cpu0, cpu_snapshot(roles), ceiling["wall_ended"] - ceiling["wall_started"])

    say(f"raw ceiling: /bench/raw-ceiling, {CONNECTIONS} connections, {SECONDS}s (+{TAIL_SECONDS}s tail)")
    raw = run_wrk(wrk, port, path="/bench/raw-ceiling", domain=sites["main"][1], seconds=SECONDS, seed=5,
                  log=Path(workdir) / "raw-ceiling.txt", **common)  # fmt: skip

    say(f"ours: /api/event, {CONNECTIONS} connections, {SECONDS}s (+{TAIL_SECONDS}s tail)")
    profiler = None
    if PROFILE:
        worker = subprocess.run(["pgrep", "-P", str(web.pid)], capture_output=True, text=True).stdout.split()[0]
        spy = [str(VENV_BIN / "py-spy"), "record", "-p", worker, "-d", str(SECONDS), "-o", PROFILE, "-r", "200"]
        spy += ["--nonblocking", "--gil", *(["--format", "raw"] if PROFILE.endswith(".txt") else [])]
        profiler = procs.start("py-spy", spy, log=Path(workdir) / "py-spy.log")
    before = landed(pgconn, sites["main"][0])
    cpu0 = cpu_snapshot(roles)
    ours = run_wrk(wrk, port, path="/api/event", domain=sites["main"][1], seconds=SECONDS, seed=4,
                   log=Path(workdir) / "ours.txt", **common)  # fmt: skip
    ours_cpu = cpu_used(cpu0, cpu_snapshot(roles), ours["wall_ended"] - ours["wall_started"])
    at_end = landed(pgconn, sites["main"][0])
    load_ended = time.monotonic()

    accepted = ours["accepted"]
    drained_after = None
    now_landed = at_end
    while time.monotonic() - load_ended < DRAIN_LIMIT:
        now_landed = landed(pgconn, sites["main"][0])
        if now_landed["pageviews"] + now_landed["events"] + now_landed["engaged"] >= accepted:
            drained_after = time.monotonic() - load_ended
            break
        time.sleep(0.05)
    wait_drained(rds, timeout=max(1.0, DRAIN_LIMIT - (time.monotonic() - load_ended)))
    final = landed(pgconn, sites["main"][0])  # after the buffer is empty: nothing else can arrive
    if profiler is not None:
        profiler.wait(timeout=60)
        say(f"profile written to {PROFILE}")

    rows = final["pageviews"] + final["events"] + final["engaged"]
    total_seconds = ours["duration_us"] / 1e6
    result = {
        "run": run,
        "ceiling_rps": ceiling["requests"] / (ceiling["duration_us"] / 1e6),
        "ceiling_p50_ms": ceiling["p50_us"] / 1000,
        "ceiling_p99_ms": ceiling["p99_us"] / 1000,
        "raw_ceiling_rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "raw_ceiling_p99_ms": raw["p99_us"] / 1000,
        "ours_rps": ours["requests"] / total_seconds,
        "accepted_per_s": accepted / SECONDS,
        "p50_ms": ours["p50_us"] / 1000,
        "p99_ms": ours["p99_us"] / 1000,
        "max_ms": ours["max_us"] / 1000,
        "rows_landed_per_s_during_load": _rows(at_end, before) / total_seconds,
        "drain_s": drained_after,
        "accepted": accepted,
        "landed": rows,
        "lost": accepted - rows,
        "in_flight_at_end": ours["sent_main"] - ours["responses"],
        "bots_answered": ours["bots"],
        "bot_drops_counted": final["bot_drops"],
        "non_202": ours["non202"] + ceiling["non202"],
        "socket_errors": sum(ours[k] + ceiling[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")),
        "socket_errors_detail": {
            run: {k[4:]: counts[k] for k in ("err_connect", "err_read", "err_write", "err_timeout") if counts[k]}
            for run, counts in (("ours", ours), ("ceiling", ceiling))
        },
        "sent": {k: ours[k] for k in ("sent_pageviews", "sent_engagements", "sent_events", "sent_bots", "sent_tail")},
        "landed_detail": final,
        "cpu_cores_ceiling": ceiling_cpu,
        "cpu_cores_ours": ours_cpu,
    }
    result["ratio"] = result["ours_rps"] / result["ceiling_rps"]
    result["raw_ratio"] = result["ours_rps"] / result["raw_ceiling_rps"]
    report(result)
    ok = (
        result["ratio"] >= TARGET_RATIO
        and result["p99_ms"] <= TARGET_P99_MS
        and drained_after is not None
        and drained_after <= TARGET_DRAIN_S
        and result["lost"] == 0
        and result["in_flight_at_end"] == 0
        and result["bots_answered"] == result["bot_drops_counted"]
    )
    return 0 if ok else 1


def _rows(now, before):
    return sum(now[k] - before[k] for k in ("pageviews", "events", "engaged"))


def report(r):
    drain = f"{r['drain_s']:.2f} s" if r["drain_s"] is not None else f"> {DRAIN_LIMIT:.0f} s"

    drained = r["drain_s"] is not None and r["drain_s"] <= TARGET_DRAIN_S

    def mark(ok):
        return "ok" if ok else "MISSED"

    rows = [
        ("ceiling (minimal view) requests/s", f"{r['ceiling_rps']:,.0f}", ""),
        ("ceiling p50 / p99 latency", f"{r['ceiling_p50_ms']:.1f} / {r['ceiling_p99_ms']:.1f} ms", ""),
        ("ours requests/s (all answers)", f"{r['ours_rps']:,.0f}", ""),
        ("ratio ours / ceiling", f"{r['ratio']:.2f}", f"≥ {TARGET_RATIO} {mark(r['ratio'] >= TARGET_RATIO)}"),
        ("raw WSGI ceiling requests/s, p99", f"{r['raw_ceiling_rps']:,.0f}, {r['raw_ceiling_p99_ms']:.1f} ms", ""),
        ("ratio ours / raw WSGI ceiling", f"{r['raw_ratio']:.2f}", "(for information)"),
        ("accepted events/s (stored kinds)", f"{r['accepted_per_s']:,.0f}", ""),
        ("p50 / p99 latency", f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} ms", f"p99 ≤ 50 ms {mark(r['p99_ms'] <= 50)}"),
        ("rows landed/s during the load", f"{r['rows_landed_per_s_during_load']:,.0f}", ""),
        ("time to drain after the load stops", drain, f"≤ 10 s {mark(drained)}"),
        ("accepted / landed / lost", f"{r['accepted']:,} / {r['landed']:,} / {r['lost']:,}",
         f"0 lost {mark(r['lost'] == 0)}"),
        ("main requests unanswered when wrk stopped", f"{r['in_flight_at_end']}", "0"),
        ("bot answers / bot drops counted", f"{r['bots_answered']:,} / {r['bot_drops_counted']:,}", ""),
        ("non-202 answers / socket errors", f"{r['non_202']} / {r['socket_errors']} {r['socket_errors_detail']}", ""),
    ]  # fmt: skip
    print()
    print("| measure | value | target |")
    print("|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    print()
    print(f"CPU cores used on average (of {os.cpu_count()}):")
    print("| process | ceiling run | our run |")
    print("|---|---|---|")
    for role in r["cpu_cores_ours"]:
        print(f"| {role} | {r['cpu_cores_ceiling'].get(role, 0):.2f} | {r['cpu_cores_ours'][role]:.2f} |")
    print()
    print("BENCH_RESULT " + json.dumps(r))


if __name__ == "__main__":
    sys.exit(main())
