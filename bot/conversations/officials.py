"""Officials act on cases with buttons; members send corrections; anyone involved
can read the lembar disposisi."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bot.casework import team_of
from bot.conversations import files, render
from bot.conversations.dialog import DialogData, State
from bot.conversations.events import Text
from bot.conversations.intents import Act, Fix, Note, Trail
from bot.conversations.output import Button, Buttons, Edit, Message, Outcome, alert, say
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput, NotAllowed, NotFound, Stale
from bot.models import Case
from bot.queries import attachments, find_case_by_agenda, tasks_for, trail
from bot.sop import Action
from bot.workflow import MAX_NOTE, Moved

TASKS_SHOWN = 10
FIX_LABEL = "Perbaikan"  # how a correction's files are labelled in the case's attachments


class NoteDraft(DialogData):
    """An action waiting for its note (State.NOTE)."""

    case: int
    version: int
    action: str
    required: bool = False
    label: str = ""


class FixDraft(DialogData):
    """A member's correction being collected (State.FIX)."""

    case: int
    version: int
    files: list[dict[str, Any]] = Field(default_factory=list)


# -- acting on a case ----------------------------------------------------------------------


def _moved_text(t: Turn, moved: Moved) -> str:
    label = render.action_label(t.svc.tr, t.lang, moved.action)
    if moved.finished:
        return t.t("act.done_finished", action=label, agenda=moved.case.agenda_number)
    if moved.to_requester:
        return t.t("act.done_requester", action=label, agenda=moved.case.agenda_number)
    assert moved.to_step is not None
    return t.t("act.done_moved", action=label, agenda=moved.case.agenda_number,
               step_no=moved.to_step.number, activity=moved.to_step.activity,
               roles=render.roles_text(t.svc.tr, t.lang, moved.to_step.roles))


def on_act(t: Turn, intent: Act) -> Outcome:
    """Check a button press on a case, then act or ask for the note the action takes."""
    case, _step, action = t.svc.workflow.check(
        t.session, intent.case_id, t.user, version=intent.version, action_code=intent.action)
    if action.asks_note:
        return _ask_note(t, case, action)
    moved = t.svc.workflow.act(t.session, intent.case_id, t.user, version=intent.version,
                               action_code=intent.action)
    return Outcome(edit=Edit(append="✅ " + _moved_text(t, moved)))


def _ask_note(t: Turn, case: Case, action: Action) -> Outcome:
    """Wait for the note of `action` (required or optional, as its SOP says)."""
    assert case.id is not None
    label = render.action_label(t.svc.tr, t.lang, action)
    required = action.note_required
    t.go(State.NOTE, NoteDraft(case=case.id, version=case.version, action=action.code,
                               required=required, label=label))
    rows: Buttons = [] if required else [[Button(t.t("button.skip_note"), Note("skip"))]]
    rows.append([Button(t.t("button.cancel"), Note("cancel"))])
    key = "act.ask_note" if required else "act.ask_note_optional"
    return say(t.t(key, action=label, agenda=case.agenda_number), rows)


def on_note_message(t: Turn, event: MessageEvent) -> Outcome:
    """Take the typed note (instruction, correction) and apply the pending action."""
    if not isinstance(event, Text):
        return say(t.t("error.expect_text"))
    if len(event.text) > MAX_NOTE:
        raise BadInput("error.too_long", limit=MAX_NOTE)
    return Outcome([_apply_note(t, event.text)])


def _apply_note(t: Turn, note: str) -> Message:
    data = t.data(NoteDraft)
    t.end()
    moved = t.svc.workflow.act(t.session, data.case, t.user, version=data.version,
                               action_code=data.action, note=note)
    return Message("✅ " + _moved_text(t, moved))


def on_note_button(t: Turn, intent: Note) -> Outcome:
    """Skip an optional note, or cancel the pending action."""
    if t.state() != State.NOTE:
        return alert(t.t("error.stale_button"))
    if intent.verb == "cancel":
        t.end()
        return Outcome([Message(t.t("act.note_cancelled"))], edit=Edit())
    if t.data(NoteDraft).required:
        raise BadInput("error.note_required")
    t.ends_dialog_on_refusal = True  # this dialog is about the very case the press acts on
    return Outcome([_apply_note(t, "")], edit=Edit())


# -- the member's correction ---------------------------------------------------------------


def on_fix(t: Turn, intent: Fix) -> Outcome:
    """A member starts sending the correction an official asked for."""
    case = t.session.get(Case, intent.case_id)
    if case is None or case.id is None or case.requester_id != t.user_id:
        raise NotAllowed()
    if case.status != "with_requester" or case.version != intent.version:
        raise Stale(agenda=case.agenda_number)
    t.go(State.FIX, FixDraft(case=case.id, version=case.version))
    return say(t.t("fix.ask", agenda=case.agenda_number))


def on_fix_message(t: Turn, event: MessageEvent) -> Outcome:
    """Collect correction files; the explaining text sends the correction."""
    data = t.data(FixDraft)
    found = files.file_in(t, event)
    if found is not None:
        data.files.append(files.as_dict(found, FIX_LABEL))
        t.go(State.FIX, data)
        return say(t.t("fix.file_ok", count=len(data.files)))
    if not isinstance(event, Text):
        return say(t.t("error.expect_text"))
    case = t.svc.workflow.resubmit(
        t.session, data.case, t.user, version=data.version, note=event.text,
        files=[files.from_dict(f) for f in data.files])
    t.end()
    return say(t.t("fix.sent", agenda=case.agenda_number))


# -- the lembar disposisi and the task list ------------------------------------------------


def _trail(t: Turn, case: Case | None) -> Outcome:
    """Show the case's lembar disposisi to someone allowed to see it."""
    if case is None or case.id is None:
        raise NotFound()
    if not t.svc.workflow.may_view(t.session, case, t.user):
        return say(t.t("error.not_allowed"))  # a message, also after a button press
    text = render.trail_text(t.svc.tr, t.lang, t.svc.registry, case, trail(t.session, case.id),
                             len(attachments(t.session, case.id)), team_of(t.session, case.id))
    return say(text)


def on_trail(t: Turn, intent: Trail) -> Outcome:
    """Show a case's lembar disposisi."""
    return _trail(t, t.session.get(Case, intent.case_id))


def disposisi(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Show the lembar disposisi of an agenda number (/disposisi 001/SM/...)."""
    if not args:
        return say(t.t("trail.usage"))
    return _trail(t, find_case_by_agenda(t.session, " ".join(args)))


def tasks(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """List what waits on me, each with its buttons (/tugas)."""
    page = tasks_for(t.session, t.svc.workflow, t.user_id, limit=TASKS_SHOWN)
    if not page.total:
        return say(t.t("tasks.none"))
    out = say(t.t("tasks.header", count=page.total))
    for line in page.lines:
        case = t.session.get(Case, line.case_id)
        assert case is not None
        step = t.svc.workflow.current_step(case)
        rows = render.action_rows(t.svc.tr, t.lang, t.svc.registry, case.sop_code,
                                  case.step_no, line.case_id, line.version,
                                  [a.code for a in step.actions])
        out.add(Message(render.case_line(t.svc.tr, t.lang, t.svc.registry, line), rows))
    if page.total > len(page.lines):
        out.add(Message(t.t("tasks.more", count=page.total - len(page.lines))))
    return out
