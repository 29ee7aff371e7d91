"""A member's own data (UU PDP): /dataku shows it, /hapus_data erases it after a confirmation."""

from __future__ import annotations

import secrets

from bot import admin as admin_core
from bot.conversations import survey
from bot.conversations.dialog import DialogData, State
from bot.conversations.intents import Erase
from bot.conversations.output import Button, Edit, Message, Outcome, alert, say
from bot.conversations.turn import Turn
from bot.errors import NotAllowed

LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}


class EraseQuestion(DialogData):
    """The /hapus_data question asked last: only its buttons count."""

    nonce: str = ""


def _data_text(t: Turn) -> str:
    data = admin_core.personal_data(t.session, t.svc.clock, t.user)
    offices = t.svc.registry.offices
    office = offices.get(data.office or "")
    zone = office.timezone if office else next(iter(offices.values())).timezone

    def place(code: str) -> str:
        return offices[code].short_name if code in offices else code

    roles = [f"{t.svc.tr.role(t.lang, role)} ({place(o)})" for o, role in data.roles]
    roles += [t.t("privacy.acting", role=t.svc.tr.role(t.lang, role), office=place(o))
              for o, role in data.acting]
    if data.language in LANGUAGE_NAMES:
        language = LANGUAGE_NAMES[data.language]
    else:
        language = t.t("privacy.lang_auto", lang_name=LANGUAGE_NAMES.get(t.lang, t.lang))
    return t.t(
        "privacy.data", full_name=data.full_name or "-", display_name=data.display_name or "-",
        external_id=data.external_id, kim_group=data.kim_group or "-",
        village=data.village or "-", district=data.district or "-", phone=data.phone or "-",
        office=office.name if office else "-",
        registered=t.svc.tr.when(t.lang, data.registered_at, zone) if data.registered_at
        else "-",
        lang_name=language,
        subscribed=t.t("privacy.subscribed_yes" if data.subscribed else "privacy.subscribed_no"),
        roles=", ".join(roles) or "-", cases=data.cases, attachments=data.attachments)


def my_data(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Show the personal data the bot holds about the sender (/dataku)."""
    profile = survey.profile_text(t)  # the SKM respondent profile, when given
    return say(_data_text(t) + (f"\n\n{profile}" if profile else ""))


def erase_data(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Ask for confirmation before erasing (/hapus_data)."""
    if admin_core.holds_office_role(t.session, t.svc.clock, t.user):
        raise NotAllowed("privacy.erase_official")
    nonce = secrets.token_urlsafe(6)[:8]
    t.go(State.ERASE, EraseQuestion(nonce=nonce))
    cases = admin_core.personal_data(t.session, t.svc.clock, t.user).cases
    return say(t.t("privacy.erase_confirm", cases=cases),
               [[Button(t.t("button.erase_yes"), Erase("yes", nonce))],
                [Button(t.t("button.erase_no"), Erase("no", nonce))]])


def on_erase(t: Turn, intent: Erase) -> Outcome:
    """The answer to the /hapus_data question (only the question asked last counts)."""
    if t.state() != State.ERASE or t.data(EraseQuestion).nonce != intent.nonce:
        return alert(t.t("error.stale_button"))
    if intent.verb == "no":
        t.end()
        return Outcome([Message(t.t("privacy.erase_cancelled"))], edit=Edit())
    if admin_core.holds_office_role(t.session, t.svc.clock, t.user):
        # Given a role since the question: erasure is refused, and the question is over.
        t.end()
        return alert(t.t("privacy.erase_official"))
    done = admin_core.erase_personal_data(t.session, t.svc.clock, t.user, store=t.svc.files)
    return Outcome([Message(t.t("privacy.erased", cases=done.cases_kept))], edit=Edit())
