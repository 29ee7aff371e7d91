"""Officials act on cases with buttons; members send corrections; anyone involved
can read the lembar disposisi."""

from __future__ import annotations

from sqlmodel import Session
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.casework import team_of
from bot.dialogs import clear_dialog, get_dialog, set_dialog
from bot.errors import KimError, NotFound
from bot.models import Case, Dialog, User
from bot.queries import attachments, find_case_by_agenda, tasks_for, trail
from bot.workflow import MAX_NOTE, Moved
from handlers import callbacks, render
from handlers.common import Reply, file_from, send_replies
from handlers.context import Turn, turn


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


async def on_act(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Check a button press on a case, then act or ask for the note it needs."""
    query = update.callback_query
    assert query is not None
    data = callbacks.parse_act(query.data or "")
    answer, replies, done = "", [], ""
    with turn(update, context) as t:
        assert t.user.id is not None
        if data is None:
            answer = t.t("error.forged")
        else:
            try:
                with t.session.begin_nested():
                    case, _step, action = t.svc.workflow.check(
                        t.session, data.case_id, t.user, version=data.version,
                        action_code=data.action)
                    label = render.action_label(t.svc.tr, t.lang, action)
                    if action.note_required or action.kind.value in ("disposisi", "paraf"):
                        set_dialog(t.session, t.svc.clock, t.user.id, "note", {
                            "case": case.id, "version": case.version, "action": action.code,
                            "required": action.note_required, "label": label})
                        rows = [] if action.note_required else [
                            [(t.t("button.skip_note"), callbacks.note("skip"))]]
                        rows.append([(t.t("button.cancel"), callbacks.note("cancel"))])
                        replies = [Reply(t.t("act.ask_note" if action.note_required
                                             else "act.ask_note_optional",
                                             action=label, agenda=case.agenda_number),
                                         render.keyboard(rows))]
                    else:
                        moved = t.svc.workflow.act(t.session, data.case_id, t.user,
                                                   version=data.version, action_code=data.action)
                        done = _moved_text(t, moved)
            except KimError as exc:
                answer = t.t(exc.key, **exc.params)
    await query.answer(answer or None, show_alert=bool(answer))
    if done:
        await _close_buttons(update, done)
    await send_replies(update, replies)


async def _close_buttons(update: Update, done: str) -> None:
    """Replace the pressed message's buttons with what was done, so it cannot be pressed again."""
    query = update.callback_query
    message = query.message if query else None
    if query is None or message is None or not hasattr(message, "text"):
        return
    original = getattr(message, "text", None) or getattr(message, "caption", None) or ""
    await query.edit_message_text(render.clip(f"{original}\n\n✅ {done}"), reply_markup=None)


def on_note_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """Take the typed note (instruction, correction) and apply the pending action."""
    message = update.effective_message
    assert message is not None
    if not message.text:
        return [Reply(t.t("error.expect_text"))]
    if len(message.text) > MAX_NOTE:
        return [Reply(t.t("error.too_long", limit=MAX_NOTE))]
    return _apply_note(t, dialog, message.text)


def _apply_note(t: Turn, dialog: Dialog, note: str) -> list[Reply]:
    assert t.user.id is not None
    data = dialog.data
    clear_dialog(t.session, t.user.id)
    moved = t.svc.workflow.act(t.session, int(data["case"]), t.user,
                               version=int(data["version"]), action_code=str(data["action"]),
                               note=note)
    return [Reply("✅ " + _moved_text(t, moved))]


async def on_note_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Skip an optional note, or cancel the pending action."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.NOTE, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        assert t.user.id is not None
        dialog = get_dialog(t.session, t.user.id)
        if groups is None:
            answer = t.t("error.forged")
        elif dialog is None or dialog.state != "note":
            answer = t.t("error.stale_button")
        elif groups[0] == "cancel":
            clear_dialog(t.session, t.user.id)
            replies = [Reply(t.t("act.note_cancelled"))]
        elif dialog.data.get("required"):
            answer = t.t("error.note_required")
        else:
            try:
                with t.session.begin_nested():
                    replies = _apply_note(t, dialog, "")
            except KimError as exc:
                clear_dialog(t.session, t.user.id)
                answer = t.t(exc.key, **exc.params)
    await query.answer(answer or None, show_alert=bool(answer))
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)


async def on_fix(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A member starts sending the correction an official asked for."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.FIX, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        assert t.user.id is not None
        case = t.session.get(Case, int(groups[0])) if groups else None
        if groups is None:
            answer = t.t("error.forged")
        elif case is None or case.requester_id != t.user.id:
            answer = t.t("error.not_allowed")
        elif case.status != "with_requester" or case.version != int(groups[1]):
            answer = t.t("error.stale", agenda=case.agenda_number)
        else:
            set_dialog(t.session, t.svc.clock, t.user.id, "fix",
                       {"case": case.id, "version": case.version, "files": []})
            replies = [Reply(t.t("fix.ask", agenda=case.agenda_number))]
    await query.answer(answer or None, show_alert=bool(answer))
    await send_replies(update, replies)


def on_fix_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """Collect correction files; the explaining text sends the correction."""
    message = update.effective_message
    assert message is not None
    assert t.user.id is not None
    data = dict(dialog.data)
    found = file_from(message, t.svc.settings.max_file_mb)
    if found is not None:
        files = [*data.get("files", []), {
            "kind": found.kind, "file_ref": found.file_ref, "file_name": found.file_name,
            "mime": found.mime, "size": found.size, "label": "Perbaikan"}]
        data["files"] = files
        set_dialog(t.session, t.svc.clock, t.user.id, "fix", data)
        return [Reply(t.t("fix.file_ok", count=len(files)))]
    if not message.text:
        return [Reply(t.t("error.expect_text"))]
    from bot.workflow import FileIn

    case = t.svc.workflow.resubmit(
        t.session, int(data["case"]), t.user, version=int(data["version"]),
        note=message.text, files=[FileIn(**f) for f in data.get("files", [])])
    clear_dialog(t.session, t.user.id)
    return [Reply(t.t("fix.sent", agenda=case.agenda_number))]


def _trail_reply(t: Turn, session: Session, case: Case | None, user: User) -> Reply:
    if case is None or case.id is None:
        raise NotFound()
    if not t.svc.workflow.may_view(session, case, user):
        return Reply(t.t("error.not_allowed"))
    lines = trail(session, case.id)
    text = render.trail_text(t.svc.tr, t.lang, t.svc.registry, case, lines,
                             len(attachments(session, case.id)), team_of(session, case.id))
    return Reply(text)


async def on_trail(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show a case's lembar disposisi."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.TRAIL, query.data)
    answer, replies = "", []
    with turn(update, context) as t:
        if groups is None:
            answer = t.t("error.forged")
        else:
            try:
                replies = [_trail_reply(t, t.session, t.session.get(Case, int(groups[0])),
                                        t.user)]
            except KimError as exc:
                answer = t.t(exc.key, **exc.params)
    await query.answer(answer or None, show_alert=bool(answer))
    await send_replies(update, replies)


async def disposisi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the lembar disposisi of an agenda number (/disposisi 001/SM/...)."""
    args = context.args or []
    with turn(update, context) as t:
        if not args:
            replies = [Reply(t.t("trail.usage"))]
        else:
            try:
                case = find_case_by_agenda(t.session, " ".join(args))
                replies = [_trail_reply(t, t.session, case, t.user)]
            except KimError as exc:
                replies = [Reply(t.t(exc.key, **exc.params))]
    await send_replies(update, replies)


async def tasks(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List what waits on me, each with its buttons (/tugas)."""
    with turn(update, context) as t:
        assert t.user.id is not None
        lines = tasks_for(t.session, t.svc.workflow, t.user.id)
        if not lines:
            replies = [Reply(t.t("tasks.none"))]
        else:
            replies = [Reply(t.t("tasks.header", count=len(lines)))]
            for line in lines[:10]:
                case = t.session.get(Case, line.case_id)
                assert case is not None
                step = t.svc.workflow.current_step(case)
                rows = render.action_rows(t.svc.tr, t.lang, t.svc.registry, case.sop_code,
                                          case.step_no, line.case_id, line.version,
                                          [a.code for a in step.actions])
                replies.append(Reply(render.case_line(t.svc.tr, t.lang, t.svc.registry, line),
                                     render.keyboard(rows)))
            if len(lines) > 10:
                replies.append(Reply(t.t("tasks.more", count=len(lines) - 10)))
    await send_replies(update, replies)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["tugas", "tasks"], tasks))
    app.add_handler(CommandHandler("disposisi", disposisi))
    app.add_handler(CallbackQueryHandler(on_act, pattern=callbacks.ACT))
    app.add_handler(CallbackQueryHandler(on_note_button, pattern=callbacks.NOTE))
    app.add_handler(CallbackQueryHandler(on_fix, pattern=callbacks.FIX))
    app.add_handler(CallbackQueryHandler(on_trail, pattern=callbacks.TRAIL))
