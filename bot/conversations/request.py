"""The member's service request: choose, purpose, documents, summary, submit; /status."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import Field

from bot.clock import from_db
from bot.conversations import files, registration, render
from bot.conversations.dialog import DialogData, State
from bot.conversations.drafts import stale_press
from bot.conversations.events import Text
from bot.conversations.intents import ComplaintStart, Draft, Service, Trail
from bot.conversations.output import Button, Buttons, Edit, Message, Outcome, alert, say
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput
from bot.people import clean_text
from bot.queries import member_cases
from bot.sop import Sop
from bot.workflow import MAX_PURPOSE


class RequestDraft(DialogData):
    draft: str
    sop: str = ""
    purpose: str = ""
    files: list[dict[str, Any]] = Field(default_factory=list)


def _key(t: Turn, draft: str) -> str:
    return f"{t.user.channel}:{t.user.id}:{draft}"


def begin_command(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Begin a new service request (/permohonan)."""
    return begin(t)


def begin(t: Turn) -> Outcome:
    if t.user.registered_at is None:
        return Outcome([Message(t.t("req.register_first")),
                        *registration.resume(t).messages])
    services = [s for s in t.svc.registry.member_services() if s.office == t.user.office]
    if not services:
        return say(t.t("req.no_services"))
    t.go(State.REQ_SERVICE, RequestDraft(draft=secrets.token_urlsafe(6)[:8]))
    rows: Buttons = [[Button(_name(t, s), Service(s.code))] for s in services]
    return say(t.t("req.choose_service"), rows)


def _name(t: Turn, sop: Sop) -> str:
    return sop.service_name.get(t.lang) or sop.service_name.get("id") or sop.name


def on_service(t: Turn, intent: Service) -> Outcome:
    """Take the chosen service and ask for the purpose."""
    sop = t.svc.registry.get(intent.sop)
    if sop is None or sop.office != t.user.office:
        return alert(t.t("error.forged"))
    if t.state() != State.REQ_SERVICE:
        return alert(t.t("error.stale_button"))
    data = t.data(RequestDraft)
    data.sop, data.files = sop.code, []
    t.go(State.REQ_PURPOSE, data)
    # The menu becomes the question (one edit, not a keyboard removal plus a new message).
    return Outcome(edit=Edit(text=t.t("req.ask_purpose", service=sop.service_name.get(t.lang)
                                      or sop.name)))


def _sop(t: Turn, data: RequestDraft) -> Sop:
    sop = t.svc.registry.get(data.sop)
    assert sop is not None
    return sop


def _ask_document(t: Turn, data: RequestDraft) -> Message:
    needed = _sop(t, data).requirements
    done = len(data.files)
    return Message(t.t("req.ask_document", item=needed[done], index=done + 1,
                       total=len(needed)))


def _summary(t: Turn, data: RequestDraft) -> Message:
    sop = _sop(t, data)
    listing = "\n".join(f"• {f['label']}: {f['file_name'] or f['kind']}" for f in data.files)
    rows: Buttons = [
        [Button(t.t("button.send"), Draft("send", data.draft))],
        [Button(t.t("button.edit_purpose"), Draft("edit", data.draft)),
         Button(t.t("button.redo_documents"), Draft("docs", data.draft))],
        [Button(t.t("button.cancel"), Draft("cancel", data.draft))],
    ]
    return Message(t.t("req.summary", service=sop.service_name.get(t.lang) or sop.name,
                       name=t.user.full_name or "", group=t.user.kim_group or "",
                       purpose=data.purpose, files=listing or "-"), rows)


def _after(first: str, then: Message) -> Message:
    """`first` (an acknowledgement, a refusal) and the next question as one message."""
    return Message(f"{first}\n\n{then.text}", then.buttons)


def on_message(t: Turn, event: MessageEvent) -> Outcome:
    """Take the purpose text or the next document, depending on where the member is."""
    state = t.state()
    data = t.data(RequestDraft)
    if state == State.REQ_PURPOSE:
        if not isinstance(event, Text):
            return say(t.t("error.expect_text"))
        data.purpose = clean_text(event.text, limit=MAX_PURPOSE)
        if len(data.files) >= len(_sop(t, data).requirements):
            t.go(State.REQ_CONFIRM, data)
            return Outcome([_summary(t, data)])
        t.go(State.REQ_DOC, data)
        return Outcome([_ask_document(t, data)])
    if state == State.REQ_DOC:
        found = files.file_in(t, event)
        if found is None:
            return Outcome([_after(t.t("error.expect_file"), _ask_document(t, data))])
        needed = _sop(t, data).requirements
        label = needed[len(data.files)]
        data.files.append(files.as_dict(found, label))
        ack = t.t("req.document_ok", item=label)
        if len(data.files) < len(needed):
            t.go(State.REQ_DOC, data)
            return Outcome([_after(ack, _ask_document(t, data))])
        t.go(State.REQ_CONFIRM, data)
        return Outcome([_after(ack, _summary(t, data))])
    return say(t.t("req.use_buttons"))


def on_draft(t: Turn, intent: Draft) -> Outcome:
    """Send, correct or cancel the request shown in the summary."""
    refused = stale_press(t, intent.draft, State.REQ_CONFIRM, _key(t, intent.draft),
                          "req.already_sent")
    if refused is not None:
        return refused
    data = t.data(RequestDraft)
    if intent.verb == "cancel":
        t.end()
        return Outcome([Message(t.t("req.cancelled"))], edit=Edit())
    if intent.verb == "edit":
        t.go(State.REQ_PURPOSE, data)
        return Outcome([Message(t.t("req.ask_purpose_again"))], edit=Edit())
    if intent.verb == "docs":
        data.files = []
        t.go(State.REQ_DOC, data)
        return Outcome([_ask_document(t, data)], edit=Edit())
    if intent.verb != "send":  # the pattern admits verbs the summary never offers
        raise BadInput("error.forged")
    sop = _sop(t, data)
    subject = f"{sop.service_name.get('id') or sop.name} - {t.user.kim_group or ''}".strip(" -")
    case, _ = t.svc.workflow.submit_request(
        t.session, t.user, sop.code, subject=subject, purpose=data.purpose,
        files=[files.from_dict(f) for f in data.files], request_key=_key(t, data.draft),
    )
    t.end()
    office = t.svc.registry.offices[case.office]
    return Outcome([Message(t.t(
        "req.receipt", agenda=case.agenda_number, office=office.name,
        received=t.svc.tr.when(t.lang, from_db(case.created_at), office.timezone),
        subject=case.subject))], edit=Edit())


def status(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Show where each of the member's requests stands (/status)."""
    page = member_cases(t.session, t.svc.workflow, t.user_id)
    lines = page.lines
    if not lines:
        return say(t.t("status.none"))
    body = "\n\n".join(render.case_line(t.svc.tr, t.lang, t.svc.registry, line)
                       for line in lines)
    rows: Buttons = [[Button(t.t("button.trail_of", agenda=line.agenda), Trail(line.case_id)),
                      Button(t.t("button.complaint_of"), ComplaintStart(line.case_id))]
                     for line in lines[:5]]
    return say(t.t("status.header", count=page.total) + "\n\n" + body, rows)
