"""`kimbot run --role …` as real child processes against the fake Bot API (PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from fakebotapi import FakeBotApi
from tests.support.kimbot import ADMIN_ID, TOKEN

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "multi-process-webhook-secret-0123"
WEBHOOK_PATH = "/telegram"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """One `kimbot run --role ROLE` child; its log is kept in `workdir`."""

    def __init__(self, api: FakeBotApi, database_url: str, role: str, workdir: Path,
                 name: str, **env: Any) -> None:
        self.api, self.database_url, self.role, self.name = api, database_url, role, name
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.ready = False  # started and answered /readyz; False again once killed

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook(self) -> str:
        return self.base + WEBHOOK_PATH

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update({
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "DATABASE_URL": self.database_url,
            "KIMBOT_ADMIN_IDS": str(ADMIN_ID),
            "KIMBOT_TELEGRAM_BASE_URL": self.api.base_url,
            "KIMBOT_TELEGRAM_FILE_URL": self.api.base_file_url,
            # Every web process names its own URL; the fake's `targets` balance between them.
            "TELEGRAM_WEBHOOK_URL": self.webhook,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "KIMBOT_LISTEN": f"127.0.0.1:{self.port}",
            "KIMBOT_PER_CHAT_INTERVAL": "0",
            "KIMBOT_OUTBOX_POLL": "0.2",
        })
        env.update({k: str(v) for k, v in self.env.items()})
        return env

    async def start(self, timeout: float = 45.0) -> None:  # noqa: ASYNC109
        """Start and wait until /readyz says ready."""
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "handlers.cli", "run", "--role", self.role,
                stdout=log, stderr=log, env=self.environment(), cwd=str(ROOT))
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.proc.returncode is not None:  # kept: its exit status
                    raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.base + "/readyz")).status_code == 200:
                        self.ready = True
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{self.name} not ready:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or an OOM kill."""
        proc, self.proc = self.proc, None
        self.ready = False
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()

    async def terminate(self, timeout: float = 30.0) -> int | None:  # noqa: ASYNC109
        """SIGTERM and wait for the drain; the exit status."""
        proc, self.proc = self.proc, None
        self.ready = False
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def tracebacks(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if "Traceback" in line]
