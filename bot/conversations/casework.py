"""Work at a step besides moving on: the working document (📎, /dokumen) and the field team (👥)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from babel.dates import format_date
from pydantic import Field
from sqlmodel import select

from bot import clean
from bot.casework import (
    MAX_TEAM,
    assign_team,
    attach_document,
    document_versions,
    team_candidates,
    team_of,
)
from bot.clock import from_db
from bot.conversations import files, render
from bot.conversations.cases import visible_case
from bot.conversations.dialog import DialogData, State
from bot.conversations.events import File, Text
from bot.conversations.intents import (
    DocAttach,
    DocSend,
    Team,
    TeamDate,
    TeamNext,
    TeamToggle,
)
from bot.conversations.output import (
    CAPTION_LIMIT,
    Button,
    Buttons,
    Edit,
    Message,
    Outcome,
    OutFile,
    alert,
    clip,
    say,
)
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput, NotAllowed, NotFound, Stale
from bot.models import Case, DocumentVersion, User
from bot.sop import Step

DATE_TYPED = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
DATE_BUTTONS = 5  # working days offered as buttons
MAX_VERSION_BUTTONS = 12
OLD_REF_CHANNEL = "telegram"  # versions stored before channels existed hold Telegram file ids


class DocDraft(DialogData):
    """State DOC: the next version of this case's working document is awaited."""

    case: int
    version: int


class TeamDraft(DialogData):
    """States TEAM_PICK and TEAM_DATE: the people chosen so far for this case's team."""

    case: int
    version: int
    chosen: list[int] = Field(default_factory=list)


def _held(t: Turn, case_id: int, version: int) -> tuple[Case, Step]:
    """The case and its current step, if this person may act on it at this version."""
    case = t.session.get(Case, case_id)
    if case is None:
        raise NotFound()
    if not t.svc.workflow.may_view(t.session, case, t.user):
        raise NotAllowed()  # before anything about the case (issue 12, hole 7)
    if case.status == "finished":
        raise Stale("error.case_closed", agenda=case.agenda_number)
    if case.status != "open" or case.version != version:
        raise Stale(agenda=case.agenda_number)
    if not t.svc.workflow.may_act(t.session, case, t.user):
        raise NotAllowed()
    return case, t.svc.workflow.current_step(case)


# -- the working document ------------------------------------------------------------------


def on_attach(t: Turn, intent: DocAttach) -> Outcome:
    """Ask the step's holder for a new version of the working document."""
    case, step = _held(t, intent.case_id, intent.version)
    assert case.id is not None
    if not step.document:
        raise BadInput("error.no_document_here")
    t.go(State.DOC, DocDraft(case=case.id, version=case.version))
    return say(t.t("doc.ask", title=step.document, agenda=case.agenda_number))


def on_doc_message(t: Turn, event: MessageEvent) -> Outcome:
    """Store the sent file as the next version; its caption is the version's note."""
    found = files.file_in(t, event)
    if found is None:
        return say(t.t("error.expect_file"))
    data = t.data(DocDraft)
    caption = event.caption if isinstance(event, File) else ""
    row = attach_document(t.session, t.svc.workflow, data.case, t.user, version=data.version,
                          file=found, note=caption)
    t.end()
    case = t.session.get(Case, row.case_id)
    assert case is not None
    return say(t.t("doc.saved", title=row.title, version=row.version,
                   agenda=case.agenda_number))


def _versions_message(t: Turn, case: Case, versions: list[DocumentVersion]) -> Message:
    """Every version with who sent it, when and why, and a resend button for the last ones."""
    assert case.id is not None
    zone = t.svc.registry.offices[case.office].timezone
    parts = [t.t("docs.header", agenda=case.agenda_number, subject=case.subject)]
    for row in versions:
        uploader = t.session.get(User, row.uploaded_by)
        name = (uploader.full_name or uploader.display_name) if uploader else "-"
        parts.append(t.t("docs.line", version=row.version, title=row.title or row.file_name,
                         step_no=row.step_no, name=name,
                         when=t.svc.tr.when(t.lang, from_db(row.created_at), zone),
                         note_line=t.t("line.note", note=row.note) if row.note else ""))
    buttons = [Button(t.t("button.send_version", version=row.version),
                      DocSend(case.id, row.version))
               for row in versions[-MAX_VERSION_BUTTONS:]]
    rows: Buttons = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    return Message("\n\n".join(parts), rows)


def documents(t: Turn, args: tuple[str, ...]) -> Outcome:
    """List every version of a case's working document (/dokumen AGENDA)."""
    agenda = " ".join(args).strip()
    if not agenda:
        return say(t.t("docs.usage"))
    case = visible_case(t, agenda)
    assert case.id is not None
    versions = document_versions(t.session, case.id)
    if not versions:
        return say(t.t("docs.none", agenda=case.agenda_number))
    return Outcome([_versions_message(t, case, versions)])


def on_send_version(t: Turn, intent: DocSend) -> Outcome:
    """Send one version's file again to someone allowed to view the case."""
    case = t.session.get(Case, intent.case_id)
    if case is None or not t.svc.workflow.may_view(t.session, case, t.user):
        raise NotAllowed()
    row = t.session.exec(
        select(DocumentVersion).where(DocumentVersion.case_id == case.id)
        .where(DocumentVersion.version == intent.number)
    ).first()
    if row is None:
        raise NotFound("docs.none", agenda=case.agenda_number)
    caption = clip(t.t("docs.caption", title=row.title or row.file_name, version=row.version,
                       agenda=case.agenda_number), CAPTION_LIMIT)
    return Outcome([Message(files=[_version_file(row, caption)])])


def _version_file(row: DocumentVersion, caption: str) -> OutFile:
    """The stored attachment behind a version; an old row without one by its Telegram id."""
    if row.attachment_id is not None:
        return OutFile(kind=row.kind, name=row.file_name, caption=caption,
                       attachment_id=row.attachment_id)
    return OutFile(kind=row.kind, name=row.file_name, caption=caption, ref=row.file_ref,
                   channel=row.channel or OLD_REF_CHANNEL, blob=row.blob_hash or "")


# -- the field team --------------------------------------------------------------------------


def _picker(t: Turn, case: Case, chosen: list[int]) -> tuple[str, Buttons]:
    """The toggle list of every Tim-role person, with ✅ on the chosen, and Lanjut."""
    assert case.id is not None
    rows: Buttons = []
    for person in team_candidates(t.session, t.svc.workflow, case.office):
        assert person.id is not None
        mark = "✅" if person.id in chosen else "▫️"
        rows.append([Button(f"{mark} {person.full_name or person.display_name}",
                            TeamToggle(case.id, case.version, person.id))])
    rows.append([Button(t.t("button.team_next"), TeamNext(case.id, case.version))])
    text = t.t("team.choose", agenda=case.agenda_number, subject=case.subject,
               count=len(chosen))
    return text, rows


def _team_draft(t: Turn, state: State, case_id: int, version: int) -> TeamDraft | None:
    """The running team dialog for exactly this case and version (None: a stale button)."""
    if t.state() != state:
        return None
    data = t.data(TeamDraft)
    if data.case != case_id or data.version != version:
        return None
    return data


def on_team(t: Turn, intent: Team) -> Outcome:
    """Open the team picker for the step that assigns the field team."""
    case, step = _held(t, intent.case_id, intent.version)
    assert case.id is not None
    if not step.assigns_team:
        raise BadInput("error.no_team_here")
    if not team_candidates(t.session, t.svc.workflow, case.office):
        return say(t.t("team.none_available"))
    chosen = [m.user_id for m in team_of(t.session, case.id)]
    t.go(State.TEAM_PICK, TeamDraft(case=case.id, version=case.version, chosen=chosen))
    return say(*_picker(t, case, chosen))


def on_team_toggle(t: Turn, intent: TeamToggle) -> Outcome:
    """Choose or unchoose one Tim-role person; the picker is redrawn in place."""
    case, _step = _held(t, intent.case_id, intent.version)
    data = _team_draft(t, State.TEAM_PICK, intent.case_id, intent.version)
    if data is None:
        return alert(t.t("error.stale_button"))
    allowed = {u.id for u in team_candidates(t.session, t.svc.workflow, case.office)}
    person = intent.user_id
    if person not in allowed:
        raise BadInput("error.not_team_member")
    chosen = data.chosen
    data.chosen = [i for i in chosen if i != person] if person in chosen else [*chosen, person]
    if len(data.chosen) > MAX_TEAM:
        raise BadInput("error.too_many", limit=MAX_TEAM)
    t.go(State.TEAM_PICK, data)
    text, rows = _picker(t, case, data.chosen)
    return Outcome(edit=Edit(text=text, buttons=rows))


def _date_buttons(t: Turn, case: Case) -> Buttons:
    """The next working days of the office, as buttons."""
    assert case.id is not None
    calendar = t.svc.workflow.sla.calendar(case.office)
    day = t.svc.clock.now().astimezone(calendar.tz).date()
    days: list[date] = []
    while len(days) < DATE_BUTTONS:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            days.append(day)
    buttons = [Button(format_date(d, "EEE, d MMM", locale=t.lang),
                      TeamDate(case.id, case.version, d.strftime("%Y%m%d"))) for d in days]
    return [buttons[:3], buttons[3:]]


def on_team_next(t: Turn, intent: TeamNext) -> Outcome:
    """Close the choice and ask for the team's duty date."""
    case, _step = _held(t, intent.case_id, intent.version)
    data = _team_draft(t, State.TEAM_PICK, intent.case_id, intent.version)
    if data is None:
        return alert(t.t("error.stale_button"))
    if not data.chosen:
        raise BadInput("error.team_required")
    t.go(State.TEAM_DATE, data)
    names = ", ".join(_names(t, data.chosen))
    return Outcome([Message(t.t("team.ask_date", names=names), _date_buttons(t, case))],
                   edit=Edit())


def _names(t: Turn, ids: list[int]) -> list[str]:
    people = [t.session.get(User, i) for i in ids]
    return [p.full_name or p.display_name for p in people if p is not None]


def _assign(t: Turn, data: TeamDraft, day: date) -> Message:
    """Set the team with its duty date; the core tells each member."""
    lines = assign_team(t.session, t.svc.workflow, data.case, t.user, version=data.version,
                        member_ids=data.chosen, duty_date=day)
    t.end()
    case = t.session.get(Case, data.case)
    assert case is not None
    return Message(t.t("team.assigned", agenda=case.agenda_number,
                       date=render.day_text(t.lang, day),
                       names="\n".join(f"• {line.name}" for line in lines)))


def on_team_date(t: Turn, intent: TeamDate) -> Outcome:
    """Take the duty date from a button and assign the team."""
    data = _team_draft(t, State.TEAM_DATE, intent.case_id, intent.version)
    if data is None:
        return alert(t.t("error.stale_button"))
    raw = intent.day
    day = _parse_day(f"{raw[:4]}-{raw[4:6]}-{raw[6:]}")
    return Outcome([_assign(t, data, day)], edit=Edit())


def _parse_day(text: str) -> date:
    return clean.day(text, key="error.bad_date")


def on_team_message(t: Turn, event: MessageEvent) -> Outcome:
    """Take a typed duty date (YYYY-MM-DD); while choosing people, point at the buttons."""
    if t.state() != State.TEAM_DATE:
        return say(t.t("team.use_buttons"))
    if not isinstance(event, Text):
        return say(t.t("error.expect_text"))
    return Outcome([_assign(t, t.data(TeamDraft), _parse_day(event.text.strip()))])
