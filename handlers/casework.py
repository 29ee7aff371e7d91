"""Work at a step besides moving on: the working document (📎, /dokumen) and the field team (👥)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from babel.dates import format_date
from sqlmodel import select
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.casework import (
    MAX_TEAM,
    assign_team,
    attach_document,
    document_versions,
    team_candidates,
    team_of,
)
from bot.clock import from_db
from bot.dialogs import clear_dialog, get_dialog, set_dialog
from bot.errors import BadInput, KimError, NotAllowed, NotFound, Stale
from bot.models import Case, Dialog, DocumentVersion, User
from bot.queries import find_case_by_agenda
from bot.sop import Step
from handlers import callbacks, render
from handlers.common import Reply, file_from, send_replies
from handlers.context import Turn, turn

# Dialog states (the router sends "doc" and every "team_" state here).
DOC, TEAM_PICK, TEAM_DATE = "doc", "team_pick", "team_date"
DATE_TYPED = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
DATE_BUTTONS = 5  # working days offered as buttons
MAX_VERSION_BUTTONS = 12


def _held(t: Turn, case_id: int, version: int) -> tuple[Case, Step]:
    """The case and its current step, if this person may act on it at this version."""
    case = t.session.get(Case, case_id)
    if case is None:
        raise NotFound()
    if case.status == "finished":
        raise Stale("error.case_closed", agenda=case.agenda_number)
    if case.status != "open" or case.version != version:
        raise Stale(agenda=case.agenda_number)
    if not t.svc.workflow.may_act(t.session, case, t.user):
        raise NotAllowed()
    return case, t.svc.workflow.current_step(case)


async def _answer(update: Update, answer: str) -> None:
    """Answer the press last, after what it shows: an alert when refused."""
    query = update.callback_query
    assert query is not None
    await query.answer(answer or None, show_alert=bool(answer))


# -- the working document ------------------------------------------------------------------


async def on_attach(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask the step's holder for a new version of the working document."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.DOC_ATTACH, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        assert t.user.id is not None
        if groups is None:
            answer = t.t("error.forged")
        else:
            try:
                case, step = _held(t, int(groups[0]), int(groups[1]))
                if not step.document:
                    raise BadInput("error.no_document_here")
                set_dialog(t.session, t.svc.clock, t.user.id, DOC,
                           {"case": case.id, "version": case.version})
                replies = [Reply(t.t("doc.ask", title=step.document,
                                     agenda=case.agenda_number))]
            except KimError as exc:
                answer = t.t(exc.key, **exc.params)
    await send_replies(update, replies)
    await _answer(update, answer)


def on_doc_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """Store the sent file as the next version; its caption is the version's note."""
    message = update.effective_message
    assert message is not None
    assert t.user.id is not None
    found = file_from(message, t.svc.settings.max_file_mb)
    if found is None:
        return [Reply(t.t("error.expect_file"))]
    data = dialog.data
    row = attach_document(t.session, t.svc.workflow, int(data["case"]), t.user,
                          version=int(data["version"]), file=found,
                          note=message.caption or "")
    clear_dialog(t.session, t.user.id)
    case = t.session.get(Case, row.case_id)
    assert case is not None
    return [Reply(t.t("doc.saved", title=row.title, version=row.version,
                      agenda=case.agenda_number))]


def _versions_reply(t: Turn, case: Case, versions: list[DocumentVersion]) -> Reply:
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
    buttons = [(t.t("button.send_version", version=row.version),
                callbacks.doc_send(case.id, row.version))
               for row in versions[-MAX_VERSION_BUTTONS:]]
    rows = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    return Reply("\n\n".join(parts), render.keyboard(rows))


async def documents(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List every version of a case's working document (/dokumen AGENDA)."""
    agenda = " ".join(context.args or []).strip()
    with turn(update, context) as t:
        case = find_case_by_agenda(t.session, agenda) if agenda else None
        if not agenda:
            replies = [Reply(t.t("docs.usage"))]
        elif case is None or case.id is None:
            replies = [Reply(t.t("print.not_found", agenda=agenda))]
        elif not t.svc.workflow.may_view(t.session, case, t.user):
            replies = [Reply(t.t("error.not_allowed"))]
        else:
            versions = document_versions(t.session, case.id)
            replies = [_versions_reply(t, case, versions) if versions
                       else Reply(t.t("docs.none", agenda=case.agenda_number))]
    await send_replies(update, replies)


async def on_send_version(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send one version's file again to someone allowed to view the case."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.DOC_SEND, query.data)
    answer, kind, ref, caption = "", "", "", ""
    with turn(update, context) as t:
        case = t.session.get(Case, int(groups[0])) if groups else None
        row = t.session.exec(
            select(DocumentVersion).where(DocumentVersion.case_id == case.id)
            .where(DocumentVersion.version == int(groups[1]))
        ).first() if case is not None and groups else None
        if groups is None:
            answer = t.t("error.forged")
        elif case is None or not t.svc.workflow.may_view(t.session, case, t.user):
            answer = t.t("error.not_allowed")
        elif row is None:
            answer = t.t("docs.none", agenda=case.agenda_number)
        else:
            kind, ref = row.kind, row.file_ref
            caption = t.t("docs.caption", title=row.title or row.file_name,
                          version=row.version, agenda=case.agenda_number)
    chat = update.effective_chat
    if ref and chat is not None and kind == "photo":
        await chat.send_photo(ref, caption=render.clip(caption, 1024))
    elif ref and chat is not None:
        await chat.send_document(ref, caption=render.clip(caption, 1024))
    await _answer(update, answer)


# -- the field team --------------------------------------------------------------------------


def _picker(t: Turn, case: Case, chosen: list[int]) -> Reply:
    """The toggle list of every Tim-role person, with ✅ on the chosen, and Lanjut."""
    assert case.id is not None
    rows = []
    for person in team_candidates(t.session, t.svc.workflow, case.office):
        assert person.id is not None
        mark = "✅" if person.id in chosen else "▫️"
        rows.append([(f"{mark} {person.full_name or person.display_name}",
                      callbacks.team_toggle(case.id, case.version, person.id))])
    rows.append([(t.t("button.team_next"), callbacks.team_next(case.id, case.version))])
    return Reply(t.t("team.choose", agenda=case.agenda_number, subject=case.subject,
                     count=len(chosen)), render.keyboard(rows))


def _team_dialog(t: Turn, state: str, case_id: int, version: int) -> Dialog:
    """The running team dialog for exactly this case and version, else a stale button."""
    assert t.user.id is not None
    dialog = get_dialog(t.session, t.user.id)
    if (dialog is None or dialog.state != state or dialog.data.get("case") != case_id
            or dialog.data.get("version") != version):
        raise Stale("error.stale_button")
    return dialog


async def on_team(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Open the team picker for the step that assigns the field team."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.TEAM, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        assert t.user.id is not None
        if groups is None:
            answer = t.t("error.forged")
        else:
            try:
                case, step = _held(t, int(groups[0]), int(groups[1]))
                assert case.id is not None
                if not step.assigns_team:
                    raise BadInput("error.no_team_here")
                if not team_candidates(t.session, t.svc.workflow, case.office):
                    replies = [Reply(t.t("team.none_available"))]
                else:
                    chosen = [m.user_id for m in team_of(t.session, case.id)]
                    set_dialog(t.session, t.svc.clock, t.user.id, TEAM_PICK,
                               {"case": case.id, "version": case.version, "chosen": chosen})
                    replies = [_picker(t, case, chosen)]
            except KimError as exc:
                answer = t.t(exc.key, **exc.params)
    await send_replies(update, replies)
    await _answer(update, answer)


async def on_team_toggle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Choose or unchoose one Tim-role person."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.TEAM_TOGGLE, query.data)
    answer, picker = "", None
    with turn(update, context) as t:
        assert t.user.id is not None
        if groups is None:
            answer = t.t("error.forged")
        else:
            try:
                case_id, version, person = int(groups[0]), int(groups[1]), int(groups[2])
                case, _step = _held(t, case_id, version)
                dialog = _team_dialog(t, TEAM_PICK, case_id, version)
                allowed = {u.id for u in team_candidates(t.session, t.svc.workflow,
                                                         case.office)}
                if person not in allowed:
                    raise BadInput("error.not_team_member")
                chosen = [int(i) for i in dialog.data.get("chosen", [])]
                chosen = [i for i in chosen if i != person] if person in chosen else [
                    *chosen, person]
                if len(chosen) > MAX_TEAM:
                    raise BadInput("error.too_many", limit=MAX_TEAM)
                set_dialog(t.session, t.svc.clock, t.user.id, TEAM_PICK,
                           {**dialog.data, "chosen": chosen})
                picker = _picker(t, case, chosen)
            except KimError as exc:
                answer = t.t(exc.key, **exc.params)
    if picker is not None:
        await query.edit_message_text(picker.text, reply_markup=picker.markup)  # type: ignore[arg-type]
    await _answer(update, answer)


def _date_buttons(t: Turn, case: Case) -> list[list[tuple[str, str]]]:
    """The next working days of the office, as buttons."""
    assert case.id is not None
    calendar = t.svc.workflow.sla.calendar(case.office)
    day = t.svc.clock.now().astimezone(calendar.tz).date()
    days: list[date] = []
    while len(days) < DATE_BUTTONS:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            days.append(day)
    buttons = [(format_date(d, "EEE, d MMM", locale=t.lang),
                callbacks.team_date(case.id, case.version, d.strftime("%Y%m%d"))) for d in days]
    return [buttons[:3], buttons[3:]]


async def on_team_next(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Close the choice and ask for the team's duty date."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.TEAM_NEXT, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        assert t.user.id is not None
        if groups is None:
            answer = t.t("error.forged")
        else:
            try:
                case_id, version = int(groups[0]), int(groups[1])
                case, _step = _held(t, case_id, version)
                dialog = _team_dialog(t, TEAM_PICK, case_id, version)
                chosen = [int(i) for i in dialog.data.get("chosen", [])]
                if not chosen:
                    raise BadInput("error.team_required")
                set_dialog(t.session, t.svc.clock, t.user.id, TEAM_DATE, dict(dialog.data))
                names = ", ".join(_names(t, chosen))
                replies = [Reply(t.t("team.ask_date", names=names),
                                 render.keyboard(_date_buttons(t, case)))]
            except KimError as exc:
                answer = t.t(exc.key, **exc.params)
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)
    await _answer(update, answer)


def _names(t: Turn, ids: list[int]) -> list[str]:
    people = [t.session.get(User, i) for i in ids]
    return [p.full_name or p.display_name for p in people if p is not None]


def _assign(t: Turn, dialog: Dialog, day: date) -> list[Reply]:
    """Set the team with its duty date; the core tells each member."""
    assert t.user.id is not None
    data = dialog.data
    lines = assign_team(t.session, t.svc.workflow, int(data["case"]), t.user,
                        version=int(data["version"]),
                        member_ids=[int(i) for i in data.get("chosen", [])], duty_date=day)
    clear_dialog(t.session, t.user.id)
    case = t.session.get(Case, int(data["case"]))
    assert case is not None
    return [Reply(t.t("team.assigned", agenda=case.agenda_number,
                      date=render.day_text(t.lang, day),
                      names="\n".join(f"• {line.name}" for line in lines)))]


async def on_team_date(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Take the duty date from a button and assign the team."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.TEAM_DATE, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        if groups is None:
            answer = t.t("error.forged")
        else:
            try:
                with t.session.begin_nested():
                    dialog = _team_dialog(t, TEAM_DATE, int(groups[0]), int(groups[1]))
                    day = _parse_day(f"{groups[2][:4]}-{groups[2][4:6]}-{groups[2][6:]}")
                    replies = _assign(t, dialog, day)
            except KimError as exc:
                answer = t.t(exc.key, **exc.params)
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)
    await _answer(update, answer)


def _parse_day(text: str) -> date:
    if not DATE_TYPED.match(text):
        raise BadInput("error.bad_date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput("error.bad_date") from None


def on_team_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """Take a typed duty date (YYYY-MM-DD); while choosing people, point at the buttons."""
    message = update.effective_message
    assert message is not None
    if dialog.state != TEAM_DATE:
        return [Reply(t.t("team.use_buttons"))]
    if not message.text:
        return [Reply(t.t("error.expect_text"))]
    return _assign(t, dialog, _parse_day(message.text.strip()))


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["dokumen", "documents"], documents))
    app.add_handler(CallbackQueryHandler(on_attach, pattern=callbacks.DOC_ATTACH))
    app.add_handler(CallbackQueryHandler(on_send_version, pattern=callbacks.DOC_SEND))
    app.add_handler(CallbackQueryHandler(on_team, pattern=callbacks.TEAM))
    app.add_handler(CallbackQueryHandler(on_team_toggle, pattern=callbacks.TEAM_TOGGLE))
    app.add_handler(CallbackQueryHandler(on_team_next, pattern=callbacks.TEAM_NEXT))
    app.add_handler(CallbackQueryHandler(on_team_date, pattern=callbacks.TEAM_DATE))
