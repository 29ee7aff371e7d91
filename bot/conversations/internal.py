"""An official starts an office-internal SOP (/mulai): pick it, subject, instruction, confirm."""

from __future__ import annotations

import secrets

from bot.clock import from_db
from bot.conversations import render
from bot.conversations.dialog import DialogData, State
from bot.conversations.drafts import stale_press
from bot.conversations.events import Text
from bot.conversations.intents import StartDraft, StartSop
from bot.conversations.output import Button, Buttons, Edit, Message, Outcome, alert, say
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput
from bot.people import clean_text
from bot.sop import Sop
from bot.sop.model import REQUESTER
from bot.workflow import MAX_PURPOSE, MAX_SUBJECT


class SopDraft(DialogData):
    """States SOP_*: the internal SOP being started, filled in step by step."""

    draft: str
    sop: str = ""
    subject: str = ""
    purpose: str = ""


def _key(t: Turn, draft: str) -> str:
    """The idempotency key of one /mulai draft: a second press cannot start it twice."""
    return f"{t.user.channel}:{t.user.id}:mulai:{draft}"


def startable(t: Turn) -> list[Sop]:
    """Internal SOPs whose starting role this person holds (Plt included), in a stable order."""
    found: list[Sop] = []
    for sop in sorted(t.svc.registry.sops.values(), key=lambda s: s.code):
        if sop.started_by == REQUESTER:
            continue
        if sop.started_by in t.svc.workflow.roles_of(t.session, t.user_id, sop.office):
            found.append(sop)
    return found


def _sop_name(t: Turn, sop: Sop) -> str:
    return sop.service_name.get(t.lang) or sop.service_name.get("id") or sop.name


def _sop(t: Turn, data: SopDraft) -> Sop:
    sop = t.svc.registry.get(data.sop)
    assert sop is not None
    return sop


def start_sop(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Offer the internal SOPs this official may start (/mulai)."""
    sops = startable(t)
    if not sops or not t.user.active:
        return say(t.t("mulai.not_allowed"))
    draft = SopDraft(draft=secrets.token_urlsafe(6)[:8])
    t.go(State.SOP_PICK, draft)
    rows: Buttons = [[Button(_sop_name(t, s), StartSop(s.code, draft.draft))] for s in sops]
    return say(t.t("mulai.choose"), rows)


def on_pick(t: Turn, intent: StartSop) -> Outcome:
    """Take the chosen SOP and ask for the subject (perihal)."""
    sop = t.svc.registry.get(intent.sop)
    if sop is None:
        return alert(t.t("error.forged"))
    dialog = t.dialog()
    if (dialog is None or dialog.state != State.SOP_PICK
            or dialog.data.get("draft") != intent.draft):
        return alert(t.t("error.stale_button"))
    if sop not in startable(t):
        return alert(t.t("mulai.not_allowed"))
    data = t.data(SopDraft)
    data.sop = sop.code
    t.go(State.SOP_SUBJECT, data)
    return Outcome([Message(t.t("mulai.ask_subject", sop=_sop_name(t, sop)))], edit=Edit())


def _summary(t: Turn, data: SopDraft) -> Message:
    sop = _sop(t, data)
    rows: Buttons = [
        [Button(t.t("button.start_sop"), StartDraft("send", data.draft))],
        [Button(t.t("button.edit_order"), StartDraft("edit", data.draft))],
        [Button(t.t("button.cancel"), StartDraft("cancel", data.draft))],
    ]
    return Message(t.t("mulai.summary", sop=_sop_name(t, sop), subject=data.subject,
                       purpose=data.purpose, activity=sop.first.activity,
                       roles=render.roles_text(t.svc.tr, t.lang, sop.first.roles)), rows)


def on_message(t: Turn, event: MessageEvent) -> Outcome:
    """Take the typed subject or instruction, depending on where the official is."""
    state = t.state()
    if state not in (State.SOP_SUBJECT, State.SOP_PURPOSE):
        return say(t.t("req.use_buttons"))
    if not isinstance(event, Text):
        return say(t.t("error.expect_text"))
    data = t.data(SopDraft)
    if state == State.SOP_SUBJECT:
        data.subject = clean_text(event.text, limit=MAX_SUBJECT)
        t.go(State.SOP_PURPOSE, data)
        return say(t.t("mulai.ask_purpose"))
    data.purpose = clean_text(event.text, limit=MAX_PURPOSE)
    t.go(State.SOP_CONFIRM, data)
    return Outcome([_summary(t, data)])


def on_confirm(t: Turn, intent: StartDraft) -> Outcome:
    """Start, correct or cancel the order shown in the summary."""
    refused = stale_press(t, intent.draft, State.SOP_CONFIRM, _key(t, intent.draft),
                          "mulai.already_started")
    if refused is not None:
        return refused
    data = t.data(SopDraft)
    if intent.verb == "cancel":
        t.end()
        return Outcome([Message(t.t("mulai.cancelled"))], edit=Edit())
    if intent.verb == "edit":
        t.go(State.SOP_SUBJECT, data)
        return Outcome([Message(t.t("mulai.ask_subject", sop=_sop_name(t, _sop(t, data))))],
                       edit=Edit())
    if intent.verb != "send":  # the pattern admits only these three; keep it explicit
        raise BadInput("error.forged")
    return Outcome([_start(t, data)], edit=Edit())


def _start(t: Turn, data: SopDraft) -> Message:
    """Open the case; the first step's holders are told by the workflow."""
    case, _ = t.svc.workflow.start_internal(
        t.session, t.user, data.sop, subject=data.subject, purpose=data.purpose,
        request_key=_key(t, data.draft))
    t.end()
    sop = t.svc.workflow.sop_of(case)
    office = t.svc.registry.offices[case.office]
    return Message(t.t("mulai.receipt", sop=_sop_name(t, sop), agenda=case.agenda_number,
                       received=t.svc.tr.when(t.lang, from_db(case.created_at),
                                              office.timezone),
                       subject=case.subject))
