"""Drive a real KIM-Bot (PTB application + core) against the fake Bot API."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from sqlmodel import select
from telegram.ext import Application

from bot.clock import Clock
from bot.models import Case, Notification, User
from bot.services import Services, build_services
from bot.settings import Settings
from fakebotapi import CallbackAnswer, FakeBotApi, FakeUser, SentMessage
from handlers.telegram import delivery
from handlers.telegram.app import build_application, running
from tests.support.catalog import CATALOG
from tests.support.catalog import text as text  # tests import `text` from here too
from tests.support.db import count

JSONDict = dict[str, Any]
MAX_CALLBACK_BYTES = 64

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
        self.app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._stack: AsyncExitStack | None = None
        self.admin = FakeUser(api, ADMIN_ID, "Admin")
        self._next_id = 10_000
        self._raw_message_ids = itertools.count(1_000_000)
        # Checked at every stop: no button the bot sent carried callback data over 64 bytes.
        self.check_callback_data = True

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
        self.app = build_application(self.svc)
        await self._stack.enter_async_context(running(self.app))

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        self.app = None
        if self.svc is not None:
            self.svc.db.dispose()
            self.svc = None
        if self.check_callback_data:
            self.assert_callback_data_fits()

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
        for answer in ["/start", name, "KIM Sumber Makmur", "Desa Tempeh Tengah",
                       "Kecamatan Tempeh"]:
            await user.send(answer)
        await user.share_contact("+6281234567890")
        # "Phone saved" and the office question are two messages: the second may come a
        # moment after the bot looked quiet, so wait for its buttons before pressing one.
        await self.api.wait_until(
            lambda: any(m.has_inline_keyboard for m in user.messages[-2:]),
            timeout=user.timeout,
            message=lambda: f"no office question:\n{self.api.dump_chat(user.chat_id)}")
        await user.click(office)
        return user

    async def submit(self, member: FakeUser, purpose: str = "Mohon peliputan kegiatan KIM.") -> str:
        """Submit a Lumajang service request; returns the agenda number from the receipt."""
        await member.send("/permohonan")
        await member.click("Permohonan pelayanan")
        await member.send(purpose)
        await member.send_photo()
        await member.send_document("surat_tugas.pdf", PDF, "application/pdf")
        before = len(self._receipts(member))
        await member.click("Kirim")
        # Waited for, not read at once: a busy outbox may hold the loop past the settle time.
        await self.api.wait_until(
            lambda: len(self._receipts(member)) > before, timeout=member.timeout,
            message=lambda: f"no receipt:\n{self.api.dump_chat(member.chat_id)}")
        text = self._receipts(member)[-1].text
        match = re.search(r"(\d{3}/SM/[A-Z-]+/\d{4})", text or "")
        assert match, f"no agenda number in the receipt: {text!r}"
        return match.group(1)

    @staticmethod
    def _receipts(member: FakeUser) -> list[SentMessage]:
        """The request receipts the member got (in either language)."""
        firsts = tuple(CATALOG.text(lang, "req.receipt").splitlines()[0] for lang in ("id", "en"))
        return [m for m in member.messages if (m.text or "").startswith(firsts)]

    async def task(
        self, official: FakeUser, step_no: int, timeout: float = 5.0,  # noqa: ASYNC109
    ) -> SentMessage:
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

    # -- what the bot sent -------------------------------------------------------------

    def callback_data_sent(self) -> list[str]:
        """Callback data of every inline button in every call the bot made (failed ones too)."""
        found: list[str] = []
        for call in self.api.calls:
            markup = call.params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if not isinstance(markup, dict):
                continue
            for row in markup.get("inline_keyboard") or []:
                found.extend(str(b["callback_data"]) for b in row if "callback_data" in b)
        return found

    def assert_callback_data_fits(self) -> None:
        too_long = [d for d in self.callback_data_sent() if len(d.encode()) > MAX_CALLBACK_BYTES]
        assert not too_long, f"callback data over {MAX_CALLBACK_BYTES} bytes: {too_long!r}"
        refused = [c for c in self.api.calls
                   if c.error and "BUTTON_DATA_INVALID" in str(c.error.get("description"))]
        assert not refused, f"Telegram refused buttons: {refused!r}"

    # -- low-level interactions ----------------------------------------------------------

    async def push_and_wait(
        self, user: FakeUser, push: Callable[[], JSONDict], *, expect_reply: bool = True,
    ) -> list[SentMessage]:
        """Queue an update built by `push`; wait as FakeUser does; return new/edited messages."""
        versions = {m.message_id: m.edited_count for m in self.api.messages(user.chat_id)}
        changes = self.api.chat_changes(user.chat_id)
        update = push()
        update_id = int(update["update_id"])

        def done() -> bool:
            if not expect_reply:
                return not self.api.is_update_pending(update_id)
            return self.api.chat_changes(user.chat_id) != changes

        await self.api.wait_until(
            done, user.timeout,
            message=lambda: f"{user!r}: no reaction\n{self.api.dump_chat(user.chat_id)}")
        await user.wait_quiet()
        return [m for m in self.api.messages(user.chat_id, include_deleted=False)
                if versions.get(m.message_id) != m.edited_count]

    async def send_raw_message(self, user: FakeUser, **fields: Any) -> list[SentMessage]:
        """Send a message with arbitrary content (video, audio, a foreign contact ...)."""
        message: JSONDict = {
            "message_id": next(self._raw_message_ids),
            "date": int(time.time()),
            "chat": {"id": user.chat_id, "type": "private",
                     "first_name": user.user["first_name"]},
            "from": dict(user.user),
            **fields,
        }
        return await self.push_and_wait(user, lambda: self.api.push_update({"message": message}))

    async def press_as(self, user: FakeUser, message: SentMessage, data: str) -> CallbackAnswer:
        """`user` presses a button with `data` on `message` (possibly in someone else's chat)."""
        update = self.api.push_callback(user.user, message, data)
        query_id = str(update["callback_query"]["id"])
        await self.api.wait_until(lambda: self.api.callback_answer(query_id) is not None,
                                  user.timeout, message=f"{data!r} was never answered")
        await user.wait_quiet()
        answer = self.api.callback_answer(query_id)
        assert answer is not None
        return answer

    async def replay(self, update: JSONDict, witness: FakeUser) -> None:
        """Deliver `update` once more with its own update_id; return when it was handled.

        Updates are handled one after another, so once `witness`'s /bantuan is answered the
        replay has been processed too (or dropped).
        """
        self.api.push_raw(update)
        await witness.send("/bantuan")

    async def hold_outbox(self) -> None:
        """Stop delivering notifications, as if the process died right after committing."""
        assert self.app is not None
        assert self.svc is not None
        await delivery.stop_delivery(self.app.bot_data.pop(delivery.BOT_DATA_KEY, None))

    # -- the database behind the screens -------------------------------------------------

    def count(self, model: type[Any], *where: Any) -> int:
        assert self.svc is not None
        with self.svc.db.session() as session:
            return count(session, model, *where)

    def user_row(self, user: FakeUser) -> User:
        assert self.svc is not None
        with self.svc.db.session() as session:
            row = session.exec(select(User).where(User.external_id == str(user.user_id))).one()
            session.expunge(row)
            return row

    def notifications_to(self, user: FakeUser) -> list[Notification]:
        assert self.svc is not None
        recipient = self.user_row(user).id
        with self.svc.db.session() as session:
            rows = list(session.exec(select(Notification)
                                     .where(Notification.recipient_id == recipient)
                                     .order_by(Notification.id)))  # type: ignore[arg-type]
            for row in rows:
                session.expunge(row)
            return rows

    def cases(self) -> int:
        return self.count(Case)
