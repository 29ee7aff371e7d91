"""Drive a real KIM-Bot serving WhatsApp (webhook server + pywa) against the fake Cloud API,
optionally with Telegram too (one bot, one database, both fakes)."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import unquote

import pytest
from sqlmodel import select

from bot.clock import Clock
from bot.models import ChannelMessage, User
from bot.services import Services, build_services
from bot.settings import Settings
from fakebotapi import FakeBotApi, FakeUser
from fakewa import FakeWaUser, FakeWhatsApp, WaMessage
from handlers.sla_watch import SlaWatcher
from handlers.telegram.app import build_application, running
from handlers.web import bound_port, build_web, serving
from handlers.whatsapp.app import WhatsAppBot
from tests.support.catalog import text as text  # tests import it from here
from tests.support.db import count
from tests.support.kimbot import ADMIN_ID, PDF, TOKEN

ADMIN_WA = "6281100009000"
MEMBER_ANSWERS = ("KIM Sumber Makmur", "Desa Tempeh Tengah", "Kecamatan Tempeh")
AGENDA = re.compile(r"(\d{3}/SM/[A-Z-]+/\d{4})")


class WaKimBot:
    """One bot process serving WhatsApp (and Telegram when `api` is given)."""

    def __init__(self, fake: FakeWhatsApp, database_url: str, api: FakeBotApi | None = None,
                 clock: Clock | None = None, **overrides: Any) -> None:
        self.fake = fake
        self.api = api
        self.database_url = database_url
        self.clock = clock
        self.overrides = overrides
        self.svc: Services | None = None
        self.whatsapp: WhatsAppBot | None = None
        self._stack: AsyncExitStack | None = None
        self.admin = FakeWaUser(fake, ADMIN_WA, "Admin WA")
        self.tg_admin = FakeUser(api, ADMIN_ID, "Admin") if api is not None else None
        self._numbers = itertools.count(1)

    def settings(self) -> Settings:
        fake = self.fake
        values: dict[str, Any] = {
            "DATABASE_URL": self.database_url,
            "KIMBOT_ADMIN_IDS": f"whatsapp:{ADMIN_WA},{ADMIN_ID}",
            "WHATSAPP_PHONE_ID": fake.phone_id,
            "WHATSAPP_TOKEN": fake.token,
            "WHATSAPP_APP_SECRET": fake.app_secret,
            "WHATSAPP_VERIFY_TOKEN": fake.verify_token,
            "WHATSAPP_NUMBER": fake.display_phone_number,
            "KIMBOT_WHATSAPP_GRAPH_URL": fake.root_url,
            "KIMBOT_WHATSAPP_PER_CHAT_INTERVAL": 0,
            "KIMBOT_PER_CHAT_INTERVAL": 0,
            "KIMBOT_OUTBOX_POLL": 0.2,
            "KIMBOT_LISTEN": "127.0.0.1:0",
        }
        if self.api is not None:
            values |= {"TELEGRAM_BOT_TOKEN": TOKEN,
                       "KIMBOT_TELEGRAM_BASE_URL": self.api.base_url,
                       "KIMBOT_TELEGRAM_FILE_URL": self.api.base_file_url}
        values |= self.overrides
        return Settings(_env_file=None, **values)

    async def start(self) -> None:
        self.svc = svc = build_services(self.settings(), clock=self.clock)
        self._stack = stack = AsyncExitStack()
        self.whatsapp = bot = WhatsAppBot(svc)
        await bot.start()
        stack.push_async_callback(bot.stop)
        if self.api is not None:
            await stack.enter_async_context(running(build_application(svc)))
        else:
            watcher = SlaWatcher(svc)
            watcher.start()
            stack.callback(watcher.stop)
        server = await stack.enter_async_context(serving(build_web(bot), "127.0.0.1:0"))
        self.fake.webhook_url = f"http://127.0.0.1:{bound_port(server)}/whatsapp"

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        if self.svc is not None:
            self.svc.db.dispose()
            self.svc = None

    # -- people ------------------------------------------------------------------------

    def person(self, name: str) -> FakeWaUser:
        return FakeWaUser(self.fake, f"628123{next(self._numbers):07d}", name)

    def tg_person(self, name: str) -> FakeUser:
        assert self.api is not None
        return FakeUser(self.api, 20_000 + next(self._numbers), name)

    async def invitation_code(self, role: str, office: str = "lumajang") -> str:
        """An admin on WhatsApp invites; the code from the wa.me link."""
        replies = await self.admin.send(f"undang {office} {role}")
        body = " ".join(m.content for m in replies)
        match = re.search(r"text=start(?:%20| )([A-Za-z0-9_-]+)", unquote(body).replace(" ", "%20"))
        match = match or re.search(r"start ([A-Za-z0-9_-]{8,})", unquote(body))
        assert match, f"no invitation link in: {body!r}"
        return match.group(1)

    async def official(self, name: str, role: str, office: str = "lumajang") -> FakeWaUser:
        """A person on WhatsApp bound to a role through the one-time invitation."""
        user = self.person(name)
        code = await self.invitation_code(role, office)
        await user.send(f"start {code}")
        return user

    async def tg_official(self, name: str, role: str, office: str = "lumajang") -> FakeUser:
        """A person on Telegram bound through an invitation from the Telegram admin."""
        assert self.tg_admin is not None
        user = self.tg_person(name)
        await self.tg_admin.send(f"/undang {office} {role}")
        last = self.tg_admin.last_message.text if self.tg_admin.last_message else ""
        match = re.search(r"start=([A-Za-z0-9_-]+)", last or "")
        assert match, f"no invitation link in: {last!r}"
        await user.send(f"/start {match.group(1)}")
        return user

    async def member(self, name: str = "Wati Susanti", office: str = "Lumajang") -> FakeWaUser:
        """A KIM member registered on WhatsApp (the phone number comes from WhatsApp)."""
        user = self.person(name)
        await user.send("daftar")
        for answer in (name, *MEMBER_ANSWERS):
            await user.send(answer)
        if user.last_message is not None and user.last_message.choices:
            await user.click(office)
        return user

    async def submit(self, member: FakeWaUser,
                     purpose: str = "Mohon peliputan kegiatan KIM.") -> str:
        """Submit a Lumajang service request on WhatsApp; the agenda number of the receipt."""
        await member.send("permohonan")
        await member.click("Permohonan pelayanan")
        await member.send(purpose)
        await member.send_image()
        await member.send_document("surat_tugas.pdf", PDF, "application/pdf")
        await member.click("Kirim")
        await self.fake.wait_until(lambda: self.receipt(member) is not None, member.timeout,
                                   message=lambda: self.fake.dump_chat(member.wa_id))
        receipt = self.receipt(member)
        assert receipt is not None
        return receipt

    @staticmethod
    def receipt(member: FakeWaUser) -> str | None:
        for message in reversed(member.messages):
            match = AGENDA.search(message.content or "")
            if match:
                return match.group(1)
        return None

    @staticmethod
    def find_task(official: FakeWaUser, step_no: int, after: int = 0) -> WaMessage | None:
        """The newest task of `step_no` (index > `after` in the person's messages): the
        message naming the step, or the first one with choices after it (a long task)."""
        msgs = official.messages
        for i in range(len(msgs) - 1, after - 1, -1):
            if re.search(rf"(Langkah|Step) {step_no}:", msgs[i].content or ""):
                return next((m for m in msgs[i:] if m.choices), None)
        return None

    async def task(self, official: FakeWaUser, step_no: int, after: int = 0,
                   timeout: float = 5.0) -> WaMessage:  # noqa: ASYNC109
        """Wait until the official has a task message for this step (with choices)."""
        await self.fake.wait_until(lambda: self.find_task(official, step_no, after) is not None,
                                   timeout, message=lambda: self.fake.dump_chat(official.wa_id))
        found = self.find_task(official, step_no, after)
        assert found is not None
        return found

    async def act(self, official: FakeWaUser, step_no: int, title: str,
                  note: str | None = None, *, after: int = 0) -> None:
        """Choose `title` on the official's task of `step_no`; write `note` (or skip) when
        a note is asked for."""
        task = await self.task(official, step_no, after)
        replies = await official.click(title, message=task)
        asked = any(m.content.startswith("Tulis catatan") for m in replies)
        if not asked:
            assert note is None, f"step {step_no} {title!r} did not ask for a note"
            return
        if note:
            await official.send(note)
        else:
            await official.click(text("button.skip_note"))

    # -- the database behind the screens -------------------------------------------------

    def count(self, model: type[Any], *where: Any) -> int:
        assert self.svc is not None
        with self.svc.db.session() as session:
            return count(session, model, *where)

    def user_of(self, wa_id: str) -> User:
        assert self.svc is not None
        with self.svc.db.session() as session:
            row = session.exec(select(User).where(User.external_id == wa_id)).one()
            session.expunge(row)
            return row

    def statuses(self) -> dict[str, str]:
        assert self.svc is not None
        with self.svc.db.session() as session:
            return {r.message_id: r.status for r in session.exec(select(ChannelMessage))}


# -- fixtures (imported by the WhatsApp test modules) ------------------------------------


@pytest.fixture
async def fakewa() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as server:
        yield server


@pytest.fixture
async def wabot(fakewa: FakeWhatsApp, database_url: str) -> AsyncIterator[WaKimBot]:
    """A bot serving WhatsApp only."""
    bot = WaKimBot(fakewa, database_url)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
