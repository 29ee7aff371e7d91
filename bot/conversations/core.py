"""Run one inbound event: replay guard, the person, authorisation, the right flow, errors.

Invariant: an update's effects (dialog, case, outbox rows) and the mark that it was
handled commit in one transaction. A crash before the commit leaves no trace, so the
channel's redelivery is handled afresh; after it, a redelivery is recognised and skipped.
A refused input (`KimError`) is answered in the person's language and rolled back (to a
savepoint, or wholly on SQLite): it changes nothing. Forged and stale button presses are
answered here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace

from sqlmodel import Session

from bot import clean, metrics
from bot.conversations import later, longtext, router, words
from bot.conversations.events import Command, Event, File, Inbound, Press, Text
from bot.conversations.intents import Cmd, Lang
from bot.conversations.output import Outcome, alert, say
from bot.conversations.table import Audience
from bot.conversations.turn import Turn
from bot.db import AFTER_COMMIT
from bot.dedupe import first_time, lock_person
from bot.errors import KimError, Stale
from bot.faults import crash_point
from bot.outbox import OUTBOX_WRITTEN
from bot.people import arrive, language_of
from bot.services import Services
from bot.sla import DEADLINES_CHANGED

log = logging.getLogger(__name__)

# After these refusals of a message in a dialog, the dialog cannot go on: it is ended. (A
# stale button pressed elsewhere leaves the dialog the person is in alone.)
_ENDS_DIALOG = ("error.stale", "error.case_closed", "error.not_allowed")


class Conversations:
    """The one entry point every channel adapter calls."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def handle(self, inbound: Inbound) -> Outcome | None:
        """Handle one update; None when it was handled before (a replay: say nothing)."""
        started = time.perf_counter()
        try:
            event = inbound.event
            if isinstance(event, File) and event.fetch is not None and not event.blob:
                event = await self._store(event)
                inbound = replace(inbound, event=event)
            outcome = self.run(inbound)
            if outcome is not None and outcome.later is not None:
                outcome = await later.finish(outcome)  # a report or export: off the loop
            return outcome
        finally:
            metrics.update(inbound.sender.channel, type(inbound.event).__name__.lower(),
                           time.perf_counter() - started)

    async def _store(self, file: File) -> File:
        """Keep the file's bytes in our store before the turn (a refused type or size is
        not fetched at all: the flow answers it)."""
        if file.size > self.svc.settings.max_file_mb * 1024 * 1024 or file.fetch is None:
            return file
        data = await file.fetch()
        digest = await asyncio.to_thread(self.svc.files.put, data)
        return replace(file, blob=digest, size=len(data))

    def run(self, inbound: Inbound) -> Outcome | None:
        inbound = cleaned(inbound)
        svc = self.svc
        with svc.db.session() as session:
            entered = self._enter(session, inbound)
            if not isinstance(entered, Turn):
                return entered
            outcome = self._act(entered, inbound)
            crash_point("update.before_commit")
            # Most updates neither queue a notification nor move a deadline: wake the
            # senders and re-arm the SLA watcher only when this one did.
            wrote_outbox = bool(session.info.get(OUTBOX_WRITTEN))
            deadline = session.info.get(DEADLINES_CHANGED)
        if wrote_outbox:
            svc.kick_outbox()
        if deadline is not None:
            svc.kick_sla(deadline)
        return outcome

    def _enter(self, session: Session, inbound: Inbound) -> Turn | Outcome | None:
        """The gate: the person's turn, or what to answer instead (None: a replay)."""
        svc, sender = self.svc, inbound.sender
        # Several processes may serve one database: one person's updates one at a time.
        lock_person(session, sender.account)
        if not first_time(session, svc.clock, inbound.key):
            log.info("skipping replayed update %s", inbound.key)
            return None
        crash_point("update.after_guard")  # the crash test's kill -9 (bot/faults.py)
        # One lookup serves all three: the person, their dialog, and whether an admin
        # deactivated them (admins are never stopped).
        user, dialog = arrive(session, svc.clock, sender)
        if not user.active and not svc.is_admin(sender.account):
            lang = language_of(user, svc.settings.default_language)
            log.info("refused an update from deactivated user %s", user.id)
            text = svc.tr.text(lang, "account.blocked")
            return alert(text) if isinstance(inbound.event, Press) else (
                say(text) if sender.private else Outcome())
        t = Turn(svc, session, user, language_of(user, svc.settings.default_language), sender)
        t.knows_dialog(dialog)
        return t

    def _act(self, t: Turn, inbound: Inbound) -> Outcome | None:
        """Run the flow; a refused input (`KimError`) changes nothing and is answered.

        On PostgreSQL a savepoint undoes a refused input: other processes wait on this
        person's lock meanwhile. SQLite (one process) skips the savepoint's cost on every
        update: a refusal rolls the whole transaction back and enters again, with nothing
        able to run in between (no `await` here)."""
        event = inbound.event
        savepoint = t.session.get_bind().dialect.name != "sqlite"
        try:
            with t.session.begin_nested() if savepoint else contextlib.nullcontext():
                # Channels without slash commands: a command typed as a word is one.
                event = words.as_command(t, event) or event
                if isinstance(event, Press):
                    return self._press(t, event)
                if isinstance(event, Command):
                    return self._command(t, event)
                return router.on_message(t, event)
        except KimError as exc:
            if savepoint:
                t.forget_dialog()  # the rollback may have undone a change to it
            else:
                entered = self._start_over(t, inbound)
                if not isinstance(entered, Turn):
                    return entered
                t = entered
            return self._refused(t, event, exc)

    def _start_over(self, t: Turn, inbound: Inbound) -> Turn | Outcome | None:
        """Roll everything back and enter again (the refusal's own writes come next)."""
        session, ends = t.session, t.ends_dialog_on_refusal
        session.rollback()
        for key in (OUTBOX_WRITTEN, DEADLINES_CHANGED, AFTER_COMMIT):
            session.info.pop(key, None)  # nothing of it happened
        entered = self._enter(session, inbound)
        if isinstance(entered, Turn):
            entered.ends_dialog_on_refusal = ends
        return entered

    def _refused(self, t: Turn, event: Event, exc: KimError) -> Outcome:
        """Answer a refused input in the person's language; end a dialog it cannot go on."""
        text = t.t(exc.key, **exc.params)
        if exc.key in longtext.TOO_LONG_KEYS and isinstance(event, Text):
            longtext.note_refusal(t, event.text)
        bound = t.ends_dialog_on_refusal or not isinstance(event, Command | Press)
        if (isinstance(exc, Stale) or exc.key.startswith(_ENDS_DIALOG)) and bound:
            t.end()  # the dialog's case moved on: its next message cannot succeed
        return alert(text) if isinstance(event, Press) else say(text)

    def _press(self, t: Turn, press: Press) -> Outcome:
        if press.intent is None:
            return alert(t.t("error.forged"))
        # Only the language choice is a button a group may press: every other one shows or
        # changes someone's case or data.
        if not t.sender.private and not isinstance(press.intent, Lang):
            return alert(t.t("error.private_only"))
        if isinstance(press.intent, Cmd):  # a menu row: the command, with its checks
            return self._command(t, Command(press.intent.name))
        run = router.PRESSES.get(type(press.intent))
        if run is None:
            return alert(t.t("error.forged"))
        return run(t, press.intent)

    def _command(self, t: Turn, command: Command) -> Outcome:
        spec = router.command(command.name)
        if spec is None:
            return say(t.t("error.unknown_command"))
        if spec.audience is Audience.ADMIN and not t.is_admin():
            return say(t.t("error.admin_only"))
        if spec.private and not t.sender.private:
            return say(t.t("error.private_only"))
        return spec.run(t, command.args)


def cleaned(inbound: Inbound) -> Inbound:
    """The update with every typed text passed through `bot.clean` (one place for all flows):
    invisible, control and spoofing characters never reach a dialog."""
    sender = inbound.sender
    name = clean.line(sender.display_name)
    if name != sender.display_name:
        sender = replace(sender, display_name=name)
    return replace(inbound, sender=sender, event=_cleaned_event(inbound.event))


def _cleaned_event(event: Event) -> Event:
    if isinstance(event, Text):
        return Text(clean.text(event.text))
    if isinstance(event, Command):
        args = tuple(a for a in (clean.line(arg) for arg in event.args) if a)
        return Command(clean.line(event.name).lower(), args)
    if isinstance(event, File):
        return replace(event, caption=clean.text(event.caption), name=clean.line(event.name))
    return event
