"""``FakeUser``: drive a bot through ``FakeBotApi`` the way a person would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from fakebotapi.formatting import TINY_PNG
from fakebotapi.models import CallbackAnswer, JSONDict, SentMessage
from fakebotapi.server import FakeBotApi


@dataclass
class _Snapshot:
    changes: int
    versions: dict[int, int]


class FakeUser:
    """A Telegram user chatting privately with the bot under test.

    Every interaction (``send``, ``click`` ...) pushes an update, waits until the bot
    reacted in this chat (a new message, an edit, a deletion or, for clicks, a
    callback answer) and then until the bot made no API call at all for ``settle``
    seconds. It returns the bot messages of this chat sent or edited meanwhile.
    With ``expect_reply=False`` it only waits for the update to be fetched and the
    bot to go quiet (for reactions that happen only in other chats, or none).
    """

    def __init__(
        self,
        api: FakeBotApi,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = "id",
        username: str | None = None,
        last_name: str | None = None,
        settle: float = 0.05,
        timeout: float = 5.0,
    ) -> None:
        self.api = api
        self.user_id = user_id
        self.settle = settle
        self.timeout = timeout
        self.user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            self.user["last_name"] = last_name
        if username is not None:
            self.user["username"] = username
        if language_code is not None:
            self.user["language_code"] = language_code
        self.last_update: JSONDict | None = None
        self._last_query_id: str | None = None
        api.register_user(self.user)

    def __repr__(self) -> str:
        return f"FakeUser({self.user_id}, {self.user['first_name']!r})"

    @property
    def chat_id(self) -> int:
        """The private chat id (equal to the user id)."""
        return self.user_id

    # ------------------------------------------------------------------ actions

    async def send(
        self,
        text: str,
        *,
        reply_to: SentMessage | None = None,
        expect_reply: bool = True,
    ) -> list[SentMessage]:
        """Send a text message; return the bot messages sent or edited in reaction."""
        return await self._interact(
            lambda: self.api.push_message(self.user, text, reply_to=reply_to),
            repr(text),
            expect_reply,
        )

    async def send_photo(
        self,
        data: bytes = TINY_PNG,
        caption: str | None = None,
        *,
        expect_reply: bool = True,
    ) -> list[SentMessage]:
        """Send a photo (a 1x1 PNG by default)."""
        return await self._interact(
            lambda: self.api.push_message(self.user, photo=data, caption=caption),
            f"photo ({len(data)} bytes)",
            expect_reply,
        )

    async def send_document(
        self,
        filename: str,
        data: bytes,
        mime: str = "application/octet-stream",
        caption: str | None = None,
        *,
        expect_reply: bool = True,
    ) -> list[SentMessage]:
        """Send a document."""
        return await self._interact(
            lambda: self.api.push_message(
                self.user, document=(filename, data, mime), caption=caption
            ),
            f"document {filename!r}",
            expect_reply,
        )

    async def share_contact(self, phone: str, *, expect_reply: bool = True) -> list[SentMessage]:
        """Share the user's own contact (as from a ``request_contact`` keyboard button)."""
        contact: JSONDict = {
            "phone_number": phone,
            "first_name": self.user["first_name"],
            "user_id": self.user_id,
        }
        if "last_name" in self.user:
            contact["last_name"] = self.user["last_name"]
        return await self._interact(
            lambda: self.api.push_message(self.user, contact=contact),
            f"contact {phone}",
            expect_reply,
        )

    async def click(
        self,
        button_text: str | None = None,
        *,
        data: str | None = None,
        message: SentMessage | None = None,
        expect_reply: bool = True,
    ) -> list[SentMessage]:
        """Press an inline button by text (exact, else unique substring) or send raw ``data``.

        Uses ``message`` or else the latest message with an inline keyboard (for raw
        ``data`` without a keyboard message: the latest message).
        """
        if button_text is None and data is None:
            raise ValueError("click() needs button_text or data")
        target = message or self._keyboard_message()
        if target is None and button_text is None:
            target = self.last_message
        if target is None:
            raise AssertionError(
                f"{self!r}: no bot message with an inline keyboard to click. Last messages:\n"
                f"{self.api.dump_chat(self.chat_id)}"
            )
        if target.deleted:
            raise AssertionError(f"cannot click on deleted message {target.describe()}")
        if button_text is not None:
            label, callback_data = self._find_button(target, button_text)
            if callback_data is None:
                raise AssertionError(
                    f"button {label!r} on message #{target.message_id} is not a callback button"
                )
            what = f"click on {label!r}"
        else:
            callback_data = data or ""
            what = f"click with data {data!r}"
        clicked = target
        return await self._interact(
            lambda: self.api.push_callback(self.user, clicked, callback_data), what, expect_reply
        )

    async def expect_silence(self, seconds: float = 0.2) -> None:
        """Assert the bot sends, edits or deletes nothing in this chat for ``seconds``."""
        snap = self._snapshot()
        await asyncio.sleep(seconds)
        if self.api.chat_changes(self.chat_id) != snap.changes:
            changed = self._changed_since(snap)
            listing = "\n".join("  " + m.describe() for m in changed) or "  (only deletions)"
            raise AssertionError(
                f"{self!r}: expected silence for {seconds}s but the bot did:\n{listing}"
            )

    async def wait_quiet(self) -> None:
        """Wait until the bot made no API call for ``settle`` seconds (bounded by timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while loop.time() < deadline:
            last = self.api.last_call_at
            quiet = time.monotonic() - last if last is not None else self.settle
            if quiet >= self.settle:
                return
            await asyncio.sleep(min(self.settle - quiet, max(0.0, deadline - loop.time())))

    # ------------------------------------------------------------------ state

    @property
    def messages(self) -> list[SentMessage]:
        """Visible (not deleted) bot messages in this chat, oldest first."""
        return self.api.messages(self.chat_id, include_deleted=False)

    @property
    def all_messages(self) -> list[SentMessage]:
        """All bot messages in this chat, including deleted ones."""
        return self.api.messages(self.chat_id)

    @property
    def last_message(self) -> SentMessage | None:
        """The most recent visible bot message."""
        msgs = self.messages
        return msgs[-1] if msgs else None

    def texts(self) -> list[str]:
        """Text (or caption) of each visible bot message."""
        return [m.content for m in self.messages]

    def buttons(self, message: SentMessage | None = None) -> list[list[tuple[str, str | None]]]:
        """Inline buttons of ``message`` (default: latest keyboard message) as (text, data)."""
        target = message or self._keyboard_message()
        return target.buttons() if target is not None else []

    def reply_keyboard(self) -> list[list[str]]:
        """Button texts of the reply keyboard currently shown (``[]`` if none)."""
        for msg in reversed(self.messages):
            markup = msg.reply_markup or {}
            if "keyboard" in markup:
                return [
                    [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
                    for row in markup["keyboard"]
                ]
            if markup.get("remove_keyboard"):
                return []
        return []

    @property
    def last_callback_answer(self) -> CallbackAnswer | None:
        """The bot's answerCallbackQuery for the last click (None if unanswered)."""
        if self._last_query_id is None:
            return None
        return self.api.callback_answer(self._last_query_id)

    # ------------------------------------------------------------------ internals

    def _keyboard_message(self) -> SentMessage | None:
        for msg in reversed(self.messages):
            if msg.has_inline_keyboard:
                return msg
        return None

    @staticmethod
    def _find_button(message: SentMessage, text: str) -> tuple[str, str | None]:
        flat = [b for row in message.buttons() for b in row]
        exact = [b for b in flat if b[0] == text]
        if exact:
            return exact[0]
        partial = [b for b in flat if text in b[0]] or [
            b for b in flat if text.casefold() in b[0].casefold()
        ]
        available = ", ".join(repr(t) for t, _ in flat) or "(none)"
        if not partial:
            raise AssertionError(
                f"no button {text!r} on message #{message.message_id}; available: {available}"
            )
        if len(partial) > 1:
            raise AssertionError(
                f"button text {text!r} is ambiguous on message #{message.message_id}; "
                f"available: {available}"
            )
        return partial[0]

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            changes=self.api.chat_changes(self.chat_id),
            versions={m.message_id: m.edited_count for m in self.api.messages(self.chat_id)},
        )

    def _changed_since(self, snap: _Snapshot) -> list[SentMessage]:
        return [
            m
            for m in self.api.messages(self.chat_id)
            if not m.deleted and snap.versions.get(m.message_id) != m.edited_count
        ]

    async def _interact(
        self, push: Callable[[], JSONDict], what: str, expect_reply: bool
    ) -> list[SentMessage]:
        snap = self._snapshot()
        update = push()
        self.last_update = update
        update_id = int(update["update_id"])
        query = update.get("callback_query")
        query_id = str(query["id"]) if isinstance(query, dict) else None
        if query_id is not None:
            self._last_query_id = query_id

        def replied() -> bool:
            if not expect_reply:
                return not self.api.is_update_pending(update_id)
            if self.api.chat_changes(self.chat_id) != snap.changes:
                return True
            return query_id is not None and self.api.callback_answer(query_id) is not None

        def explain() -> str:
            verb = "react to" if expect_reply else "fetch"
            lines = [f"{self!r}: bot did not {verb} {what} within {self.timeout}s"]
            if self.api.is_update_pending(update_id):
                lines.append("  (the update was never fetched by getUpdates - is the bot polling?)")
            lines.extend(f"  fake server error: {err!r}" for err in self.api.server_errors)
            failed = [c for c in self.api.calls if c.error is not None][-5:]
            lines.extend(f"  failed call {c.method}: {c.error}" for c in failed)
            lines.append(f"Last messages in chat {self.chat_id}:")
            lines.append(self.api.dump_chat(self.chat_id))
            return "\n".join(lines)

        await self.api.wait_until(replied, self.timeout, message=explain)
        await self.wait_quiet()
        return self._changed_since(snap)
