"""Drive the conversation core with no channel at all: events in, outcomes out.

`ChatHub` plays the part of a channel adapter (like aiogram_dialog's test tools): people
`send` text, commands, files and their phone number and `click` buttons by label; what the
core answers and every notification it queues land in each person's `inbox`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.conversations.core import Conversations
from bot.conversations.events import Command, Contact, Event, File, Inbound, Press, Sender, Text
from bot.conversations.output import Button, Message, Outcome
from bot.conversations.render import notification
from bot.models import Case, User
from bot.outbox import claim_due, mark_sent
from bot.people import language_of
from bot.services import Services, build_services
from bot.settings import Settings

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


@dataclass
class Shown:
    """A message as the person sees it now (buttons go when the bot closes them)."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    files: int = 0

    def labels(self) -> list[str]:
        return [b.label for row in self.buttons for b in row]


class ChatHub:
    """A channel adapter for tests: no network, no channel library."""

    def __init__(self, svc: Services, channel: str = "telegram") -> None:
        self.svc = svc
        self.channel = channel
        self.core = Conversations(svc)
        self._ids = itertools.count(70_000)
        self._updates = itertools.count(1)
        self.people: dict[str, ChatPerson] = {}  # by account id

    def person(self, name: str, *, language: str = "id", account_id: str | None = None,
               ) -> ChatPerson:
        person = ChatPerson(self, account_id or str(next(self._ids)), name, language)
        self.people[person.account_id] = person
        return person

    async def turn(self, person: ChatPerson, event: Event) -> Outcome | None:
        sender = Sender(self.channel, person.account_id, person.account_id, person.name,
                        person.language)
        outcome = await self.core.handle(Inbound(sender, event, f"core:{next(self._updates)}"))
        if outcome is not None:
            person.show(outcome)
        self.deliver()
        return outcome

    def deliver(self) -> None:
        """Hand every queued notification of this channel to its recipient."""
        svc = self.svc
        with svc.db.session() as session:
            for row in claim_due(session, svc.clock, 10_000, channel=self.channel):
                assert row.id is not None
                user = session.get(User, row.recipient_id)
                case = session.get(Case, row.case_id) if row.case_id else None
                assert user is not None
                lang = language_of(user, svc.settings.default_language)
                text, buttons = notification(svc.tr, lang, svc.registry, row, case)
                person = self.people.get(user.external_id)
                if person is not None:
                    person.inbox.append(Shown(text, buttons, len(row.attachment_ids)))
                mark_sent(session, svc.clock, row.id)


class ChatPerson:
    def __init__(self, hub: ChatHub, account_id: str, name: str, language: str) -> None:
        self.hub, self.account_id, self.name, self.language = hub, account_id, name, language
        self.inbox: list[Shown] = []
        self.alerts: list[str] = []
        self._pressed: Shown | None = None

    # -- what the person does ----------------------------------------------------------

    async def send(self, text: str) -> list[Shown]:
        if text.startswith("/"):
            name, *args = text[1:].split()
            return await self._do(Command(name.lower(), tuple(args)))
        return await self._do(Text(text))

    async def send_file(self, name: str, data: bytes, mime: str, kind: str = "document",
                        caption: str = "") -> list[Shown]:
        async def fetch() -> bytes:
            return data

        return await self._do(File(kind, f"ref-{name}", name, mime, len(data), caption, fetch))

    async def send_photo(self) -> list[Shown]:
        return await self.send_file("foto.jpg", JPEG, "image/jpeg", kind="photo")

    async def share_phone(self, phone: str, *, own: bool = True) -> list[Shown]:
        return await self._do(Contact(phone, own))

    async def click(self, label: str) -> list[Shown]:
        """Press the newest button labelled `label` (or starting with it)."""
        for shown in reversed(self.inbox):
            for button in (b for row in shown.buttons for b in row):
                if button.label == label or button.label.startswith(label):
                    self._pressed = shown
                    return await self._do(Press(button.intent, button.intent.encode()))
        raise AssertionError(f"{self.name}: no button {label!r} in {self.texts()[-3:]!r}")

    async def _do(self, event: Event) -> list[Shown]:
        before = len(self.inbox)
        await self.hub.turn(self, event)
        return self.inbox[before:]

    # -- what the person sees ----------------------------------------------------------

    def show(self, outcome: Outcome) -> None:
        if outcome.answer:
            self.alerts.append(outcome.answer)
        if outcome.edit is not None and self._pressed is not None:
            if outcome.edit.text is not None:
                self._pressed.text = outcome.edit.text
            if outcome.edit.append:
                self._pressed.text += "\n\n" + outcome.edit.append
            self._pressed.buttons = list(outcome.edit.buttons)
        self._pressed = None
        for message in outcome.messages:
            self.inbox.append(_shown(message))

    def texts(self) -> list[str]:
        return [m.text for m in self.inbox]

    @property
    def last(self) -> Shown:
        return self.inbox[-1]


def _shown(message: Message) -> Shown:
    return Shown(message.text, list(message.buttons), len(message.files))


def names(rows: Any) -> list[str]:
    return [b.label for row in rows for b in row]


@contextmanager
def core_services(database_url: str, clock: Clock, **settings: Any) -> Iterator[Services]:
    """The services as the bot builds them, on this database, with these settings."""
    values = {"DATABASE_URL": database_url, **settings}
    services = build_services(Settings(_env_file=None, **values),  # type: ignore[call-arg]
                              clock=clock)
    try:
        yield services
    finally:
        services.db.dispose()
