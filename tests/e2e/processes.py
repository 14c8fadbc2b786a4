"""Real processes for end-to-end tests: free ports, kpiwatch and Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5, headers: dict[str, str] | None = None):
    """(status, headers, body) of a GET; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def http_post(url: str, timeout: float = 10):
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class Kpiwatch:
    """A ``kpiwatch run`` subprocess with its log captured to a file."""

    def __init__(
        self,
        tmp: Path,
        config: Path | None,
        port: int,
        extra: list[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.log_path = tmp / "kpiwatch.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        args = [sys.executable, "-m", "kpiwatch", *extra, "run", "--listen", f"127.0.0.1:{port}"]
        if config is not None:
            args += ["-c", str(config)]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
        environ.update(env or {})
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=environ, cwd=tmp
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kw):
        return http_get(self.base + path, **kw)

    def status(self) -> dict:
        return json.loads(self.get("/api/v1/status")[2])

    def wait_ready(self, timeout: float = 30) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"kpiwatch exited {self.proc.returncode}:\n{self.log()}")
            return self.get("/readyz", timeout=2)[0] == 200

        wait_for(ready, timeout, "kpiwatch /readyz")

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 20, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


class Prometheus:
    """The real Prometheus server (Debian package) scraping given targets every second."""

    def __init__(self, tmp: Path, targets: list[str]) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("the prometheus binary is missing; `make test` installs the Debian package")
        self.port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: kpiwatch\n"
            f"    static_configs: [{{targets: {json.dumps(targets)}}}]\n"
        )
        self._log = open(tmp / "prometheus.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: http_get(f"{self.base}/-/ready", timeout=2)[0] == 200, 30, "prometheus /-/ready"
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, promql: str) -> list[dict]:
        from urllib.parse import urlencode

        status, _, body = http_get(f"{self.base}/api/v1/query?{urlencode({'query': promql})}")
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", answer
        return answer["data"]["result"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()
