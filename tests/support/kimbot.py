"""Drive a real KIM-Bot (PTB application + core) against the fake Bot API."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from typing import Any

from bot.clock import Clock
from bot.settings import Settings
from fakebotapi import FakeBotApi, FakeUser, SentMessage
from handlers.app import build_application, build_services, running
from handlers.context import Services

ADMIN_ID = 9000
TOKEN = "123456:TEST-TOKEN"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class KimBot:
    """One bot process: `start`, `stop`, `restart` (a new process on the same database)."""

    def __init__(self, api: FakeBotApi, database_url: str, clock: Clock | None = None,
                 **overrides: Any) -> None:
        self.api = api
        self.database_url = database_url
        self.clock = clock
        self.overrides = overrides
        self.svc: Services | None = None
        self._stack: AsyncExitStack | None = None
        self.admin = FakeUser(api, ADMIN_ID, "Admin")
        self._next_id = 10_000

    def settings(self) -> Settings:
        values: dict[str, Any] = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "DATABASE_URL": self.database_url,
            "KIMBOT_ADMIN_IDS": str(ADMIN_ID),
            "KIMBOT_TELEGRAM_BASE_URL": self.api.base_url,
            "KIMBOT_TELEGRAM_FILE_URL": self.api.base_file_url,
            "KIMBOT_PER_CHAT_INTERVAL": 0,
            "KIMBOT_OUTBOX_POLL": 0.2,
            **self.overrides,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start(self) -> None:
        self.svc = build_services(self.settings(), clock=self.clock)
        self._stack = AsyncExitStack()
        await self._stack.enter_async_context(running(build_application(self.svc)))

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        if self.svc is not None:
            self.svc.db.dispose()
            self.svc = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # -- people ------------------------------------------------------------------------

    def person(self, name: str, *, language: str = "id") -> FakeUser:
        self._next_id += 1
        return FakeUser(self.api, self._next_id, name, language_code=language)

    async def official(self, name: str, role: str, office: str = "lumajang") -> FakeUser:
        """A person bound to a role through an admin's one-time invitation."""
        user = self.person(name)
        await self.admin.send(f"/undang {office} {role}")
        text = self.admin.last_message.text if self.admin.last_message else ""
        match = re.search(r"start=([A-Za-z0-9_-]+)", text or "")
        assert match, f"no invitation link in: {text!r}"
        await user.send(f"/start {match.group(1)}")
        return user

    async def member(self, name: str = "Wati Susanti", office: str = "Lumajang",
                     *, language: str = "id") -> FakeUser:
        """A registered KIM member."""
        user = self.person(name, language=language)
        for text in ["/start", name, "KIM Sumber Makmur", "Desa Tempeh Tengah",
                     "Kecamatan Tempeh"]:
            await user.send(text)
        await user.share_contact("+6281234567890")
        await user.click(office)
        return user

    async def submit(self, member: FakeUser, purpose: str = "Mohon peliputan kegiatan KIM.") -> str:
        """Submit a Lumajang service request; returns the agenda number from the receipt."""
        await member.send("/permohonan")
        await member.click("Permohonan pelayanan")
        await member.send(purpose)
        await member.send_photo()
        await member.send_document("surat_tugas.pdf", PDF, "application/pdf")
        await member.click("Kirim")
        text = member.last_message.text if member.last_message else ""
        match = re.search(r"(\d{3}/SM/[A-Z-]+/\d{4})", text or "")
        assert match, f"no agenda number in the receipt: {text!r}"
        return match.group(1)

    async def task(self, official: FakeUser, step_no: int, timeout: float = 5.0) -> SentMessage:
        """Wait until the official has a task message for this step; return it."""
        def found() -> bool:
            return self._task_message(official, step_no) is not None

        await self.api.wait_until(found, timeout=timeout)
        message = self._task_message(official, step_no)
        assert message is not None
        return message

    @staticmethod
    def _task_message(official: FakeUser, step_no: int) -> SentMessage | None:
        for message in reversed(official.messages):
            keyboard = (message.reply_markup or {}).get("inline_keyboard")
            if keyboard and re.search(rf"(Langkah|Step) {step_no}:", message.text or ""):
                return message
        return None
