"""Start and stop a private localstripe (a stateful Stripe emulator, PyPI `localstripe`) on a free loopback port.

Why not just run the `localstripe` command: it binds every interface (`::`), and after every write it pickles its
whole store to the fixed path /tmp/localstripe.pickle, shared by every instance on the machine (parallel test runs
would clobber each other's file, and creating the 150th object pickles the 149 before it). So the child process
runs localstripe's own aiohttp app with the dump switched off, on a socket this process already bound to 127.0.0.1
and hands over (no race for the port between choosing it and binding it).

The child also adds one thing localstripe lacks, so that error paths can be tested (see docs/localstripe.md):
API keys carry markers that turn a request into the error real Stripe would answer with —
`…-revoked` → 401, `…-no-<resource>` → 403 on `/v1/<resource>…` naming the missing `rak_…_read` permission,
`…-ratelimited` → 429 on every request, `…-ratelimited<N>` → 429 on that key's first N requests.
Restricted keys (`rk_…`), which localstripe itself refuses with 401, are let through as if they were `sk_…`.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# Run by the child: `python -c _SERVE <fd>`. Kept in this file so that the helper is one module.
_SERVE = r"""
import logging, re, socket, sys
from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

def _error(status, message, code=None):
    body = {"error": {"type": "invalid_request_error", "message": message}}
    if code:
        body["error"]["code"] = code
    return web.json_response(body, status=status)

_seen = {}

@web.middleware
async def faults(request, handler):
    header = request.headers.get("Authorization", "")
    key = header[7:] if header.startswith("Bearer ") else ""
    if not request.path.startswith("/v1/") or not key:
        return await handler(request)
    masked = key[:8] + "*" * 4 + key[-4:]
    if "-revoked" in key:
        return _error(401, "Invalid API Key provided: " + masked)
    limited = re.search(r"-ratelimited(\d*)", key)
    if limited:
        _seen[key] = _seen.get(key, 0) + 1
        if not limited.group(1) or _seen[key] <= int(limited.group(1)):
            return _error(429, "Request rate limit exceeded. Learn more about rate limits here "
                          "https://stripe.com/docs/rate-limits.", code="rate_limit")
    resource = request.path.split("/")[2]
    if resource in re.findall(r"-no-([a-z_]+)", key):
        permission = "rak_" + resource.rstrip("s") + "_read"
        return _error(403, "The provided key '" + masked + "' does not have the required permissions for this "
                      "endpoint on account 'acct_localstripe'. Having the '" + permission + "' permission would "
                      "allow this request to continue.")
    if key.startswith("rk_"):
        headers = dict(request.headers)
        headers["Authorization"] = "Bearer sk_" + key[3:]
        request = request.clone(headers=headers)
    return await handler(request)

server.app.middlewares.insert(0, faults)
sock = socket.socket(fileno=int(sys.argv[1]))
web.run_app(server.app, sock=sock, print=lambda *a: print(*a, flush=True))
"""

READY_KEY = "sk_test_localstripe_ready"


class LocalStripeError(RuntimeError):
    pass


class LocalStripe:
    """One localstripe process. `start()` returns once it answers HTTP; `stop()` ends it; `reset()` empties it."""

    def __init__(self, *, python=sys.executable, startup_timeout=20.0):
        self.python = python
        self.startup_timeout = startup_timeout
        self.process = None
        self.url = None
        self.log_path = None
        self.startup_seconds = None

    def start(self):
        started = time.monotonic()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        log = tempfile.NamedTemporaryFile(prefix="localstripe-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = log.name
        try:
            self.process = subprocess.Popen(
                [self.python, "-c", _SERVE, str(sock.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=[sock.fileno()],
                cwd=tempfile.gettempdir(),
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            log.close()
            sock.close()  # the child holds its own copy
        self._wait_until_ready()
        self.startup_seconds = time.monotonic() - started
        return self.url

    def _wait_until_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalStripeError(f"localstripe exited with code {self.process.returncode}\n{self.log_tail()}")
            try:
                self._request("GET", "/v1/customers?limit=1")  # no side effects (GET /v1/balance stores one)
                return
            except (OSError, urllib.error.URLError) as error:
                last_error = error
                time.sleep(0.05)
        self.stop()
        raise LocalStripeError(
            f"localstripe did not answer within {self.startup_timeout:.0f} s ({last_error})\n{self.log_tail()}"
        )

    def _request(self, method, path):
        # S310: the URL is our own http://127.0.0.1 server, never a user-supplied scheme.
        request = urllib.request.Request(self.url + path, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {READY_KEY}")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.read()

    def reset(self):
        """Forget every object (localstripe's `DELETE /_config/data`). Takes a few milliseconds."""
        self._request("DELETE", "/_config/data")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def remove_log(self):
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)

    def log_size(self):
        return os.path.getsize(self.log_path) if self.log_path else 0

    def log_tail(self, since=0, max_chars=20_000):
        if not self.log_path:
            return "(no log)"
        with open(self.log_path, errors="replace") as f:
            f.seek(since)
            text = f.read()
        return text[-max_chars:] if text else "(log is empty)"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.remove_log()
