"""Member registration: name, KIM group, desa/kelurahan, kecamatan, phone, office."""

from __future__ import annotations

from bot.conversations.dialog import State
from bot.conversations.events import Contact, Text
from bot.conversations.intents import Office
from bot.conversations.output import Button, Buttons, Edit, Message, Outcome, alert
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.people import Profile, clean_phone, clean_text, register_member

# The questions in order, each with the dialog state that waits for its answer.
FIELDS: tuple[tuple[str, State], ...] = (
    ("full_name", State.REG_FULL_NAME),
    ("kim_group", State.REG_KIM_GROUP),
    ("village", State.REG_VILLAGE),
    ("district", State.REG_DISTRICT),
    ("phone", State.REG_PHONE),
)
_FIELD_OF = {state: name for name, state in FIELDS}


def begin(t: Turn) -> Outcome:
    """Start (or restart) registration at the first question."""
    t.go(State.REG_FULL_NAME)
    return Outcome([Message(t.t("reg.welcome")), Message(t.t("reg.ask_full_name"))])


def resume(t: Turn) -> Outcome:
    """Repeat the current registration question, or start registration."""
    state = t.state()
    if state == State.REG_OFFICE:
        return Outcome([_ask_office(t)])
    if state in _FIELD_OF:
        return Outcome([_ask(t, _FIELD_OF[state])])
    return begin(t)


def _ask(t: Turn, field: str) -> Message:
    if field == "phone":
        return Message(t.t("reg.ask_phone"), ask_phone=t.t("button.share_contact"))
    return Message(t.t(f"reg.ask_{field}"))


def _ask_office(t: Turn) -> Message:
    rows: Buttons = [[Button(o.name, Office(o.code))] for o in t.svc.registry.offices.values()]
    return Message(t.t("reg.ask_office"), rows)


def on_message(t: Turn, event: MessageEvent) -> Outcome:
    """Take the answer to the current registration question."""
    state = t.state()
    dialog = t.dialog()
    data = dict(dialog.data) if dialog else {}
    if state == State.REG_OFFICE or state not in _FIELD_OF:
        return Outcome([_ask_office(t)])
    field = _FIELD_OF[state]
    if field == "phone":
        if isinstance(event, Contact):
            # Telegram's contact button always carries the sender's own number; a contact
            # picked from the address book is someone else's.
            if not event.own:
                return Outcome([Message(t.t("error.contact_not_yours"))])
            value = clean_phone(event.phone)
        elif isinstance(event, Text):
            value = clean_phone(event.text)
        else:
            return Outcome([_ask(t, field)])
    else:
        if not isinstance(event, Text):
            return Outcome([Message(t.t("error.expect_text")), _ask(t, field)])
        value = clean_text(event.text)
    data[field] = value
    index = [name for name, _ in FIELDS].index(field)
    if index + 1 < len(FIELDS):
        name, next_state = FIELDS[index + 1]
        if name == "phone" and t.sender.phone:
            # The channel vouches for the sender's number (WhatsApp): nothing to ask.
            data[name] = clean_phone(t.sender.phone)
        else:
            t.go(next_state, data)
            return Outcome([_ask(t, name)])
    offices = list(t.svc.registry.offices)
    if len(offices) > 1:
        t.go(State.REG_OFFICE, data)
        return Outcome([Message(t.t("reg.phone_ok"), clear_keyboard=True), _ask_office(t)])
    return Outcome([Message(_finish(t, data, offices[0]), clear_keyboard=True)])


def _finish(t: Turn, data: dict[str, object], office: str) -> str:
    fields = {name: str(data.get(name, "")) for name, _ in FIELDS}
    register_member(t.session, t.svc.clock, t.user, Profile(office=office, **fields))
    t.end()
    return t.t("reg.done", name=t.user.full_name or "",
               office=t.svc.registry.offices[office].name)


def on_office(t: Turn, intent: Office) -> Outcome:
    """Record the office a member belongs to and finish registration."""
    if intent.office not in t.svc.registry.offices:
        return alert(t.t("error.forged"))
    dialog = t.dialog()
    if dialog is None or dialog.state != State.REG_OFFICE:
        return alert(t.t("error.stale_button"))
    text = _finish(t, dict(dialog.data), intent.office)
    return Outcome([Message(text)], edit=Edit())
