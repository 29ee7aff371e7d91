"""Complaints in chat: a member writes one (/pengaduan [AGENDA] or the button on /status),
with an optional file; the handler answers it in chat and the member gets the answer."""

from __future__ import annotations

import secrets

from bot import complaints as core
from bot.clock import from_db
from bot.conversations import files
from bot.conversations.dialog import DialogData, State
from bot.conversations.events import Text
from bot.conversations.intents import ComplaintAct, ComplaintDraft, ComplaintStart
from bot.conversations.output import Button, Edit, Message, Outcome, OutFile, alert, say
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput, NotAllowed
from bot.models import Case
from bot.workflow import FileIn


class ComplaintData(DialogData):
    nonce: str = ""
    office: str = ""
    case_id: int | None = None
    text: str = ""


class AnswerData(DialogData):
    complaint_id: int = 0


def _cancel_row(t: Turn, nonce: str) -> list[Button]:
    return [Button(t.t("button.cancel"), ComplaintDraft("cancel", nonce))]


def _begin(t: Turn, office: str, case: Case | None) -> Outcome:
    nonce = secrets.token_urlsafe(6)[:8]
    t.go(State.COMPLAINT_TEXT, ComplaintData(
        nonce=nonce, office=office, case_id=case.id if case is not None else None))
    about = t.t("complaint.about_request", agenda=case.agenda_number) if case else t.t(
        "complaint.about_office", office=t.svc.registry.offices[office].name)
    return say(t.t("complaint.ask_text", about=about), [_cancel_row(t, nonce)])


def command(t: Turn, args: tuple[str, ...]) -> Outcome:
    """/pengaduan [AGENDA]: a complaint about a request, or about the member's office."""
    if len(args) > 1:
        raise BadInput("complaint.usage")
    if args:
        case = core.case_of_member(t.session, t.user, args[0])
        return _begin(t, case.office, case)
    if not t.user.office or t.user.office not in t.svc.registry.offices:
        raise BadInput("complaint.unregistered")
    return _begin(t, t.user.office, None)


def on_start(t: Turn, intent: ComplaintStart) -> Outcome:
    """The complaint button on a request's /status line."""
    case = t.session.get(Case, intent.case_id)
    if case is None or case.requester_id != t.user_id:
        raise NotAllowed()
    return _begin(t, case.office, case)


def on_message(t: Turn, event: MessageEvent) -> Outcome:
    state = t.state()
    if state == State.COMPLAINT_ANSWER:
        return _answer_message(t, event)
    data = t.data(ComplaintData)
    if state == State.COMPLAINT_TEXT:
        if not isinstance(event, Text):
            raise BadInput("complaint.text_first")
        text = event.text.strip()
        if not text:
            raise BadInput("complaint.empty")
        if len(text) > core.MAX_TEXT:
            raise BadInput("error.too_long", limit=core.MAX_TEXT)
        data.text = text
        t.go(State.COMPLAINT_FILE, data)
        return say(t.t("complaint.ask_file"),
                   [[Button(t.t("button.complaint_send"), ComplaintDraft("send", data.nonce))],
                    _cancel_row(t, data.nonce)])
    file = files.file_in(t, event)
    if file is None:
        raise BadInput("complaint.file_or_send")
    return _register(t, data, file)


def on_draft(t: Turn, intent: ComplaintDraft) -> Outcome:
    """Send the complaint without a file, or cancel it (only the draft asked last counts)."""
    state = t.state()
    data = t.data(ComplaintData)
    if state not in (State.COMPLAINT_TEXT, State.COMPLAINT_FILE) or data.nonce != intent.nonce:
        return alert(t.t("error.stale_button"))
    if intent.verb == "cancel":
        t.end()
        return Outcome([Message(t.t("complaint.cancelled"))], edit=Edit())
    if state != State.COMPLAINT_FILE:
        raise BadInput("complaint.text_first")
    outcome = _register(t, data, None)
    outcome.edit = Edit()
    return outcome


def _register(t: Turn, data: ComplaintData, file: FileIn | None) -> Outcome:
    case = t.session.get(Case, data.case_id) if data.case_id is not None else None
    complaint = core.register(
        t.session, t.svc.clock, t.svc.registry, t.svc.workflow.sla, user=t.user,
        office=data.office, case=case, text=data.text, file=file,
        days=t.svc.settings.complaint_sla_days)
    t.end()
    office = t.svc.registry.offices[complaint.office]
    return say(t.t("complaint.registered", number=complaint.number,
                   due=t.svc.tr.when(t.lang, from_db(complaint.due_at), office.timezone),
                   days=t.svc.settings.complaint_sla_days))


# -- the handler's side ------------------------------------------------------------------


def on_act(t: Turn, intent: ComplaintAct) -> Outcome:
    """A handler answers a complaint, or opens the file that came with it."""
    complaint = core.complaint_for(t.session, intent.complaint_id, t.user,
                                   admin_offices=t.admin_offices())
    if intent.verb == "file":
        if not complaint.file_kind or not (complaint.blob_hash or complaint.file_ref):
            return alert(t.t("complaint.no_file"))
        return Outcome([Message(files=[OutFile(
            kind=complaint.file_kind, name=complaint.file_name, caption=complaint.number,
            ref=complaint.file_ref, channel=complaint.file_channel,
            blob=complaint.blob_hash or "")])])
    if complaint.status != "open":
        return alert(t.t("complaint.answered_already", number=complaint.number))
    assert complaint.id is not None
    t.go(State.COMPLAINT_ANSWER, AnswerData(complaint_id=complaint.id))
    return say(t.t("complaint.ask_answer", number=complaint.number, text=complaint.text))


def _answer_message(t: Turn, event: MessageEvent) -> Outcome:
    if not isinstance(event, Text):
        raise BadInput("complaint.answer_text")
    data = t.data(AnswerData)
    complaint = core.complaint_for(t.session, data.complaint_id, t.user,
                                   admin_offices=t.admin_offices())
    core.answer(t.session, t.svc.clock, complaint, t.user, event.text)
    t.end()
    return say(t.t("complaint.answer_sent", number=complaint.number))
