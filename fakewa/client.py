"""``FakeWaUser``: drive a bot through ``FakeWhatsApp`` the way a person on WhatsApp would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fakewa.models import JSONDict, WaMessage, WebhookDelivery
from fakewa.server import FakeWhatsApp

# A 1x1 JPEG.
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a1816"
    "16183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c6567"
    "63ffdb0043011112121815182f1a1a2f63423842636363636363636363636363636363636363636363636363"
    "6363636363636363636363636363636363636363636363636363ffc000110800010001030122000211010311"
    "01ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303"
    "020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024"
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566"
    "6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7"
    "b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400"
    "1f0100030101010101010101010000000000000102030405060708090a0bffc400b511000201020404030407"
    "05040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a"
    "162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9"
    "bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100"
    "02110311003f00c7a28a2b84fa83ffd9"
)
TINY_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32


class FakeWaUser:
    """A person on WhatsApp writing to the business number under test.

    Every action posts a signed webhook to the bot, waits until the bot sent this person
    something (``expect_reply=True``) and then until the bot went quiet: no Graph request
    and no webhook in flight for ``settle`` seconds. It returns the bot's messages to this
    person sent meanwhile. With ``expect_reply=False`` it only waits for the webhook to be
    answered and the bot to go quiet.
    """

    def __init__(
        self,
        api: FakeWhatsApp,
        wa_id: str,
        name: str,
        *,
        settle: float = 0.05,
        timeout: float = 5.0,
    ) -> None:
        self.api = api
        self.wa_id = wa_id
        self.name = name
        self.settle = settle
        self.timeout = timeout
        self.last_delivery: WebhookDelivery | None = None
        api.register_user(wa_id, name)

    def __repr__(self) -> str:
        return f"FakeWaUser({self.wa_id}, {self.name!r})"

    # ------------------------------------------------------------------ actions

    async def send(
        self, text: str, *, reply_to: WaMessage | None = None, expect_reply: bool = True
    ) -> list[WaMessage]:
        """Send a text message; return the bot messages sent in reaction."""
        context = reply_to.id if reply_to is not None else None
        return await self._interact(
            lambda: self.api.push_text(self.wa_id, text, context=context), repr(text), expect_reply
        )

    async def send_image(
        self,
        data: bytes = TINY_JPEG,
        caption: str | None = None,
        *,
        mime: str = "image/jpeg",
        expect_reply: bool = True,
    ) -> list[WaMessage]:
        """Send a photo (a 1x1 JPEG by default)."""
        return await self._interact(
            lambda: self.api.push_media(self.wa_id, "image", data, mime, caption=caption),
            f"image ({len(data)} bytes)",
            expect_reply,
        )

    async def send_document(
        self,
        filename: str,
        data: bytes,
        mime: str = "application/pdf",
        caption: str | None = None,
        *,
        expect_reply: bool = True,
    ) -> list[WaMessage]:
        """Send a document."""
        return await self._interact(
            lambda: self.api.push_media(
                self.wa_id, "document", data, mime, caption=caption, filename=filename
            ),
            f"document {filename!r}",
            expect_reply,
        )

    async def send_video(
        self,
        data: bytes = TINY_MP4,
        caption: str | None = None,
        *,
        mime: str = "video/mp4",
        expect_reply: bool = True,
    ) -> list[WaMessage]:
        """Send a video."""
        return await self._interact(
            lambda: self.api.push_media(self.wa_id, "video", data, mime, caption=caption),
            "video",
            expect_reply,
        )

    async def send_audio(
        self,
        data: bytes = b"OggS\x00fake-voice-note",
        *,
        mime: str = "audio/ogg; codecs=opus",
        voice: bool = True,
        expect_reply: bool = True,
    ) -> list[WaMessage]:
        """Send a voice note (or audio file)."""
        return await self._interact(
            lambda: self.api.push_media(self.wa_id, "audio", data, mime, extra={"voice": voice}),
            "audio",
            expect_reply,
        )

    async def send_sticker(
        self, data: bytes = b"RIFF\x00\x00\x00\x00WEBP", *, expect_reply: bool = True
    ) -> list[WaMessage]:
        """Send a sticker."""
        return await self._interact(
            lambda: self.api.push_media(
                self.wa_id, "sticker", data, "image/webp", extra={"animated": False}
            ),
            "sticker",
            expect_reply,
        )

    async def send_location(
        self,
        latitude: float = -8.1335,
        longitude: float = 113.2248,
        name: str | None = None,
        *,
        expect_reply: bool = True,
    ) -> list[WaMessage]:
        """Share a location."""
        location: JSONDict = {"latitude": latitude, "longitude": longitude}
        if name is not None:
            location["name"] = name
        return await self._interact(
            lambda: self.api.push_message(self.wa_id, {"type": "location", "location": location}),
            "location",
            expect_reply,
        )

    async def send_contact(
        self, phone: str | None = None, name: str | None = None, *, expect_reply: bool = True
    ) -> list[WaMessage]:
        """Share a contact card (default: the user's own number and name)."""
        phone = phone or self.wa_id
        name = name or self.name
        digits = "".join(ch for ch in phone if ch.isdigit())
        card: JSONDict = {
            "name": {"formatted_name": name, "first_name": name.split()[0]},
            "phones": [{"phone": f"+{digits}", "wa_id": digits, "type": "CELL"}],
        }
        return await self._interact(
            lambda: self.api.push_message(self.wa_id, {"type": "contacts", "contacts": [card]}),
            f"contact {phone}",
            expect_reply,
        )

    async def send_unsupported(self, *, expect_reply: bool = True) -> list[WaMessage]:
        """Send something the Cloud API does not support (it arrives as type "unsupported")."""
        content: JSONDict = {
            "type": "unsupported",
            "errors": [
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."},
                }
            ],
        }
        return await self._interact(
            lambda: self.api.push_message(self.wa_id, content), "unsupported", expect_reply
        )

    async def react(
        self, message: WaMessage, emoji: str = "\U0001f44d", *, expect_reply: bool = False
    ) -> list[WaMessage]:
        """React to a bot message with an emoji."""
        content: JSONDict = {
            "type": "reaction",
            "reaction": {"message_id": message.id, "emoji": emoji},
        }
        return await self._interact(
            lambda: self.api.push_message(self.wa_id, content), f"reaction {emoji}", expect_reply
        )

    async def click(
        self,
        title: str | None = None,
        *,
        id: str | None = None,
        data: str | None = None,
        message: WaMessage | None = None,
        expect_reply: bool = True,
    ) -> list[WaMessage]:
        """Tap a reply button / list row / template quick reply by title (or send a raw ``id``).

        Uses ``message`` or else the newest bot message with choices. The webhook is a
        ``button_reply`` / ``list_reply`` (or a template ``button``) whose ``context.id`` is
        that message's wamid. ``data`` is an alias of ``id`` (as in ``FakeUser.click``).
        """
        id = id if id is not None else data
        if title is None and id is None:
            raise ValueError("click() needs a title or an id")
        target = message or self._choice_message()
        if target is None:
            raise AssertionError(
                f"{self!r}: no bot message with buttons or a list to tap. Last messages:\n"
                f"{self.api.dump_chat(self.wa_id)}"
            )
        if title is not None:
            choice_id, label = self._find_choice(target, title)
        else:
            choice_id = id or ""
            label = next((t for i, t in target.choices if i == choice_id), choice_id)
        content = self._reply_content(target, choice_id, label)
        return await self._interact(
            lambda: self.api.push_message(self.wa_id, content, context=target.id),
            f"tap on {label!r}",
            expect_reply,
        )

    async def read(self, message: WaMessage | None = None) -> None:
        """Open the chat: a "read" status webhook for ``message`` (default: the newest)."""
        target = message or self.last_message
        if target is None:
            raise AssertionError(f"{self!r}: nothing to read")
        self.api.push_status(target.id, "read")
        await self.wait_quiet()

    async def expect_silence(self, seconds: float = 0.2) -> None:
        """Assert the bot sends this person nothing for ``seconds``."""
        before = self.api.changes(self.wa_id)
        seen = len(self.api.messages(self.wa_id, include_failed=True))
        await asyncio.sleep(seconds)
        if self.api.changes(self.wa_id) != before:
            new = self.api.messages(self.wa_id, include_failed=True)[seen:]
            listing = "\n".join("  " + m.describe() for m in new)
            raise AssertionError(f"{self!r}: expected silence for {seconds}s but got:\n{listing}")

    async def wait_quiet(self) -> None:
        """Wait until no webhook is in flight and no Graph request came for ``settle`` s.

        ``api.idle_check`` (if set) must also be true.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while loop.time() < deadline:
            last = self.api.last_activity_at
            quiet = time.monotonic() - last if last is not None else self.settle
            idle = self.api.idle_check is None or self.api.idle_check()
            if self.api.inflight_webhooks == 0 and quiet >= self.settle and idle:
                return
            await asyncio.sleep(max(0.005, min(self.settle - quiet, deadline - loop.time())))

    # ------------------------------------------------------------------ state

    @property
    def messages(self) -> list[WaMessage]:
        """Bot messages this person received (not the failed ones), oldest first."""
        return self.api.messages(self.wa_id)

    @property
    def last_message(self) -> WaMessage | None:
        """The most recent bot message received."""
        msgs = self.messages
        return msgs[-1] if msgs else None

    def texts(self) -> list[str]:
        """Visible text of each received bot message (body, caption or template text/name)."""
        return [m.content for m in self.messages]

    def choices(self, message: WaMessage | None = None) -> list[tuple[str, str]]:
        """``(id, title)`` of what can be tapped on ``message`` (default: the newest with any)."""
        target = message or self._choice_message()
        return target.choices if target is not None else []

    def buttons(self, message: WaMessage | None = None) -> list[str]:
        """Titles of what can be tapped on ``message`` (default: the newest with any)."""
        return [title for _, title in self.choices(message)]

    @property
    def window_open(self) -> bool:
        """Whether the 24-hour customer-service window is open for this person."""
        return self.api.window_open(self.wa_id)

    # ------------------------------------------------------------------ internals

    def _choice_message(self) -> WaMessage | None:
        for msg in reversed(self.messages):
            if msg.choices:
                return msg
        return None

    @staticmethod
    def _find_choice(message: WaMessage, text: str) -> tuple[str, str]:
        flat = message.choices
        exact = [c for c in flat if c[1] == text]
        if exact:
            return exact[0]
        partial = [c for c in flat if text in c[1]] or [
            c for c in flat if text.casefold() in c[1].casefold()
        ]
        available = ", ".join(repr(t) for _, t in flat) or "(none)"
        if not partial:
            raise AssertionError(
                f"no choice {text!r} on {message.describe()}; available: {available}"
            )
        if len(partial) > 1:
            raise AssertionError(f"choice {text!r} is ambiguous; available: {available}")
        return partial[0]

    @staticmethod
    def _reply_content(target: WaMessage, choice_id: str, label: str) -> JSONDict:
        if target.kind == "template":
            return {"type": "button", "button": {"payload": choice_id, "text": label}}
        if target.interactive_type == "list":
            return {
                "type": "interactive",
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": choice_id, "title": label},
                },
            }
        return {
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": choice_id, "title": label},
            },
        }

    async def _interact(
        self, push: Callable[[], WebhookDelivery], what: str, expect_reply: bool
    ) -> list[WaMessage]:
        seen = len(self.api.messages(self.wa_id, include_failed=True))
        before = self.api.changes(self.wa_id)
        delivery = push()
        self.last_delivery = delivery

        def settled() -> bool:
            if delivery.done and not delivery.delivered:
                return True  # explained below
            if not expect_reply:
                return delivery.done
            return self.api.changes(self.wa_id) != before

        def explain() -> str:
            verb = "react to" if expect_reply else "answer the webhook for"
            lines = [f"{self!r}: bot did not {verb} {what} within {self.timeout}s"]
            if self.api.webhook_url is None:
                lines.append("  (FakeWhatsApp.webhook_url is not set)")
            lines.append(f"  webhook attempts: {delivery.attempts}")
            lines.extend(f"  fake server error: {err!r}" for err in self.api.server_errors)
            lines.extend(
                f"  failed call {c.method} {c.path}: {c.error}"
                for c in self.api.failed_calls()[-5:]
            )
            lines.append(f"Last messages to {self.wa_id}:")
            lines.append(self.api.dump_chat(self.wa_id))
            return "\n".join(lines)

        await self.api.wait_until(settled, self.timeout, message=explain)
        if delivery.done and not delivery.delivered:
            raise AssertionError(
                f"{self!r}: the bot refused the webhook for {what}: HTTP {delivery.attempts}"
            )
        await self.wait_quiet()
        return [
            m for m in self.api.messages(self.wa_id, include_failed=True)[seen:] if not m.failed
        ]
