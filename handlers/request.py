"""The member's service request: choose, purpose, documents, summary, submit; /status."""

from __future__ import annotations

import secrets

from sqlmodel import select
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.dialogs import clear_dialog, get_dialog, set_dialog
from bot.errors import BadInput, KimError
from bot.models import Case, Dialog
from bot.people import clean_text
from bot.queries import member_cases
from bot.workflow import MAX_PURPOSE, FileIn
from handlers import callbacks, render
from handlers.common import Reply, file_from, send_replies
from handlers.context import Turn, turn
from handlers.registration import resume as resume_registration


def _key(t: Turn, draft: str) -> str:
    return f"{t.user.channel}:{t.user.id}:{draft}"


async def start_request(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Begin a new service request (/permohonan)."""
    with turn(update, context) as t:
        replies = begin(t)
    await send_replies(update, replies)


def begin(t: Turn) -> list[Reply]:
    assert t.user.id is not None
    if t.user.registered_at is None:
        return [Reply(t.t("req.register_first")), *resume_registration(t)]
    services = [s for s in t.svc.registry.member_services() if s.office == t.user.office]
    if not services:
        return [Reply(t.t("req.no_services"))]
    draft = secrets.token_urlsafe(6)[:8]
    set_dialog(t.session, t.svc.clock, t.user.id, "req_service", {"draft": draft})
    rows = [[(s.service_name.get(t.lang) or s.service_name.get("id") or s.name,
              callbacks.service(s.code))] for s in services]
    return [Reply(t.t("req.choose_service"), render.keyboard(rows))]


async def on_service(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Take the chosen service and ask for the purpose."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.SERVICE, query.data)
    with turn(update, context) as t:
        assert t.user.id is not None
        dialog = get_dialog(t.session, t.user.id)
        sop = t.svc.registry.get(groups[0]) if groups else None
        replies: list[Reply] = []
        if sop is None or sop.office != t.user.office:
            answer = t.t("error.forged")
        elif dialog is None or dialog.state != "req_service":
            answer = t.t("error.stale_button")
        else:
            answer = ""
            data = {**dialog.data, "sop": sop.code, "files": []}
            set_dialog(t.session, t.svc.clock, t.user.id, "req_purpose", data)
            name = sop.service_name.get(t.lang) or sop.name
            replies = [Reply(t.t("req.ask_purpose", service=name))]
    await query.answer(answer or None, show_alert=bool(answer))
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)


def _ask_document(t: Turn, data: dict[str, object]) -> Reply:
    sop = t.svc.registry.get(str(data["sop"]))
    assert sop is not None
    files = list(data.get("files") or [])  # type: ignore[call-overload]
    needed = sop.requirements
    return Reply(t.t("req.ask_document", item=needed[len(files)], index=len(files) + 1,
                     total=len(needed)))


def _summary(t: Turn, data: dict[str, object]) -> Reply:
    sop = t.svc.registry.get(str(data["sop"]))
    assert sop is not None
    files = list(data.get("files") or [])  # type: ignore[call-overload]
    listing = "\n".join(f"• {f['label']}: {f['file_name'] or f['kind']}" for f in files)
    draft = str(data["draft"])
    rows = [
        [(t.t("button.send"), callbacks.draft("send", draft))],
        [(t.t("button.edit_purpose"), callbacks.draft("edit", draft)),
         (t.t("button.redo_documents"), callbacks.draft("docs", draft))],
        [(t.t("button.cancel"), callbacks.draft("cancel", draft))],
    ]
    return Reply(t.t("req.summary", service=sop.service_name.get(t.lang) or sop.name,
                     name=t.user.full_name or "", group=t.user.kim_group or "",
                     purpose=str(data.get("purpose", "")), files=listing or "-"),
                 render.keyboard(rows))


def on_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """Take the purpose text or the next document, depending on where the member is."""
    message = update.effective_message
    assert message is not None
    assert t.user.id is not None
    data = dict(dialog.data)
    if dialog.state == "req_service":
        return [Reply(t.t("req.use_buttons"))]
    if dialog.state == "req_purpose":
        if not message.text:
            return [Reply(t.t("error.expect_text"))]
        data["purpose"] = clean_text(message.text, limit=MAX_PURPOSE)
        sop = t.svc.registry.get(str(data["sop"]))
        assert sop is not None
        if len(data.get("files") or []) >= len(sop.requirements):
            set_dialog(t.session, t.svc.clock, t.user.id, "req_confirm", data)
            return [_summary(t, data)]
        set_dialog(t.session, t.svc.clock, t.user.id, "req_doc", data)
        return [_ask_document(t, data)]
    if dialog.state == "req_doc":
        found = file_from(message, t.svc.settings.max_file_mb)
        if found is None:
            return [Reply(t.t("error.expect_file")), _ask_document(t, data)]
        sop = t.svc.registry.get(str(data["sop"]))
        assert sop is not None
        files = list(data.get("files") or [])
        label = sop.requirements[len(files)]
        files.append({"kind": found.kind, "file_ref": found.file_ref,
                      "file_name": found.file_name, "mime": found.mime, "size": found.size,
                      "label": label})
        data["files"] = files
        ack = Reply(t.t("req.document_ok", item=label))
        if len(files) < len(sop.requirements):
            set_dialog(t.session, t.svc.clock, t.user.id, "req_doc", data)
            return [ack, _ask_document(t, data)]
        set_dialog(t.session, t.svc.clock, t.user.id, "req_confirm", data)
        return [ack, _summary(t, data)]
    return [Reply(t.t("req.use_buttons"))]


async def on_draft(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send, correct or cancel the request shown in the summary."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.DRAFT, query.data)
    replies: list[Reply] = []
    answer = ""
    with turn(update, context) as t:
        assert t.user.id is not None
        dialog = get_dialog(t.session, t.user.id)
        if groups is None:
            answer = t.t("error.forged")
        else:
            verb, draft = groups
            if dialog is None or dialog.data.get("draft") != draft:
                key = _key(t, draft)
                done = t.session.exec(select(Case).where(Case.request_key == key)).first()
                answer = (t.t("req.already_sent", agenda=done.agenda_number) if done
                          else t.t("error.stale_button"))
            elif dialog.state != "req_confirm":
                answer = t.t("error.stale_button")
            else:
                try:
                    with t.session.begin_nested():
                        replies = _draft_action(t, dialog, verb)
                except KimError as exc:
                    answer = t.t(exc.key, **exc.params)
    await query.answer(answer or None, show_alert=bool(answer))
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)


def _draft_action(t: Turn, dialog: Dialog, verb: str) -> list[Reply]:
    assert t.user.id is not None
    data = dict(dialog.data)
    if verb == "cancel":
        clear_dialog(t.session, t.user.id)
        return [Reply(t.t("req.cancelled"))]
    if verb == "edit":
        set_dialog(t.session, t.svc.clock, t.user.id, "req_purpose", data)
        return [Reply(t.t("req.ask_purpose_again"))]
    if verb == "docs":
        data["files"] = []
        set_dialog(t.session, t.svc.clock, t.user.id, "req_doc", data)
        return [_ask_document(t, data)]
    if verb != "send":  # the pattern admits verbs the summary never offers
        raise BadInput("error.forged")
    sop = t.svc.registry.get(str(data["sop"]))
    assert sop is not None
    files = [FileIn(**f) for f in data.get("files") or []]
    subject = f"{sop.service_name.get('id') or sop.name} - {t.user.kim_group or ''}".strip(" -")
    case, _ = t.svc.workflow.submit_request(
        t.session, t.user, sop.code, subject=subject, purpose=str(data.get("purpose", "")),
        files=files, request_key=_key(t, str(data["draft"])),
    )
    clear_dialog(t.session, t.user.id)
    office = t.svc.registry.offices[case.office]
    from bot.clock import from_db

    return [Reply(t.t("req.receipt", agenda=case.agenda_number, office=office.name,
                      received=t.svc.tr.when(t.lang, from_db(case.created_at), office.timezone),
                      subject=case.subject))]


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show where each of the member's requests stands (/status)."""
    with turn(update, context) as t:
        assert t.user.id is not None
        lines = member_cases(t.session, t.svc.workflow, t.user.id)
        if not lines:
            replies = [Reply(t.t("status.none"))]
        else:
            body = "\n\n".join(render.case_line(t.svc.tr, t.lang, t.svc.registry, line)
                               for line in lines)
            rows = [[(t.t("button.trail_of", agenda=line.agenda), callbacks.trail(line.case_id))]
                    for line in lines[:5]]
            replies = [Reply(t.t("status.header", count=len(lines)) + "\n\n" + body,
                             render.keyboard(rows))]
    await send_replies(update, replies)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["permohonan", "request"], start_request))
    app.add_handler(CommandHandler("status", status))
    app.add_handler(CallbackQueryHandler(on_service, pattern=callbacks.SERVICE))
    app.add_handler(CallbackQueryHandler(on_draft, pattern=callbacks.DRAFT))
