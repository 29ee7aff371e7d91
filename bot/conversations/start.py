"""/start (with invitation codes), /bantuan, /bahasa, /batal and what an idle person is told."""

from __future__ import annotations

import re

from bot.conversations import linking, registration
from bot.conversations.intents import Cmd, Lang
from bot.conversations.output import Button, Edit, Message, Outcome, say
from bot.conversations.turn import Turn
from bot.errors import KimError
from bot.people import accept_invitation, bindings_of, set_language

INVITE_CODE = re.compile(r"^[A-Za-z0-9_-]{8,32}\Z", re.ASCII)


def idle(t: Turn) -> Outcome:
    """What someone outside any dialog is told when they write."""
    known = linking.candidate(t) if t.sender.phone else None
    if known is not None:  # registered on another channel with this number
        return linking.offer(t, known)
    return say(t.t("idle.unregistered" if t.user.registered_at is None else "idle.registered"))


def help_message(t: Turn) -> Message:
    from bot.conversations import menus  # menus reads the command table, which lists us

    official = bool(bindings_of(t.session, t.user_id))
    return Message(menus.help_text(t.svc.tr, t.lang, official=official, admin=t.is_admin()))


def start(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Greet, accept an invitation code, or begin registration."""
    if args:
        return _invitation(t, args[0])
    if t.user.registered_at is None and not bindings_of(t.session, t.user_id):
        known = linking.candidate(t) if t.sender.phone else None
        return linking.offer(t, known) if known is not None else registration.begin(t)
    name = t.user.full_name or t.user.display_name
    return Outcome([Message(t.t("start.back", name=name)), help_message(t)])


def _invitation(t: Turn, code: str) -> Outcome:
    if not INVITE_CODE.match(code):
        return say(t.t("error.invitation_unknown"))
    try:
        with t.session.begin_nested():
            binding = accept_invitation(t.session, t.svc.clock, t.user, code)
    except KimError as exc:
        return say(t.t(exc.key, **exc.params))
    office = t.svc.registry.offices.get(binding.office)
    return Outcome([Message(t.t("invite.accepted", role=t.svc.tr.role(t.lang, binding.role),
                                office=office.name if office else binding.office)),
                    help_message(t)])


def menu_command(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """What this person may do, one button per command (a list message on WhatsApp)."""
    from bot.conversations import menus

    official = bool(bindings_of(t.session, t.user_id))
    rows = [[Button(f"{spec.name} — {t.t(f'cmd.{spec.name}')}", Cmd(spec.name))]
            for spec in menus.pickable(t.svc.tr, t.lang, official=official, admin=t.is_admin())]
    return say(t.t("menu.title"), rows)


def help_command(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """List the commands this person can use."""
    return Outcome([help_message(t)])


def language(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Offer the languages (/bahasa)."""
    return say(t.t("lang.choose"), [[Button("Bahasa Indonesia", Lang("id")),
                                     Button("English", Lang("en"))]])


def on_language(t: Turn, intent: Lang) -> Outcome:
    """Switch the person's language."""
    set_language(t.session, t.user, intent.language)
    t.lang = intent.language
    return Outcome(edit=Edit(text=t.t("lang.set")))


def cancel(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Abandon whatever guided conversation is running (/batal)."""
    had = t.end()
    return Outcome([Message(t.t("cancel.done" if had else "cancel.nothing"),
                            clear_keyboard=True)])


