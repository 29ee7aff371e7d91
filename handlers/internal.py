"""An official starts an office-internal SOP (/mulai): pick it, subject, instruction, confirm."""

from __future__ import annotations

import secrets

from sqlmodel import select
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.clock import from_db
from bot.dialogs import clear_dialog, get_dialog, set_dialog
from bot.errors import KimError
from bot.models import Case, Dialog
from bot.people import clean_text
from bot.sop import Sop
from bot.sop.model import REQUESTER
from bot.workflow import MAX_PURPOSE, MAX_SUBJECT
from handlers import callbacks, render
from handlers.common import Reply, send_replies
from handlers.context import Turn, turn

# Dialog states (the router sends every "sop_" state here).
PICK, SUBJECT, PURPOSE, CONFIRM = "sop_pick", "sop_subject", "sop_purpose", "sop_confirm"


def _key(t: Turn, draft: str) -> str:
    """The idempotency key of one /mulai draft: a second press cannot start it twice."""
    return f"{t.user.channel}:{t.user.id}:mulai:{draft}"


def startable(t: Turn) -> list[Sop]:
    """Internal SOPs whose starting role this person holds (Plt included), in a stable order."""
    assert t.user.id is not None
    found: list[Sop] = []
    for sop in sorted(t.svc.registry.sops.values(), key=lambda s: s.code):
        if sop.started_by == REQUESTER:
            continue
        if sop.started_by in t.svc.workflow.roles_of(t.session, t.user.id, sop.office):
            found.append(sop)
    return found


def _sop_name(t: Turn, sop: Sop) -> str:
    return sop.service_name.get(t.lang) or sop.service_name.get("id") or sop.name


async def start_sop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer the internal SOPs this official may start (/mulai)."""
    with turn(update, context) as t:
        replies = begin(t)
    await send_replies(update, replies)


def begin(t: Turn) -> list[Reply]:
    assert t.user.id is not None
    sops = startable(t)
    if not sops or not t.user.active:
        return [Reply(t.t("mulai.not_allowed"))]
    draft = secrets.token_urlsafe(6)[:8]
    set_dialog(t.session, t.svc.clock, t.user.id, PICK, {"draft": draft})
    rows = [[(_sop_name(t, s), callbacks.start_sop(s.code, draft))] for s in sops]
    return [Reply(t.t("mulai.choose"), render.keyboard(rows))]


async def on_pick(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Take the chosen SOP and ask for the subject (perihal)."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.START_SOP, query.data)
    replies: list[Reply] = []
    answer = ""
    with turn(update, context) as t:
        assert t.user.id is not None
        dialog = get_dialog(t.session, t.user.id)
        sop = t.svc.registry.get(groups[0]) if groups else None
        if groups is None or sop is None:
            answer = t.t("error.forged")
        elif dialog is None or dialog.state != PICK or dialog.data.get("draft") != groups[1]:
            answer = t.t("error.stale_button")
        elif sop not in startable(t):
            answer = t.t("mulai.not_allowed")
        else:
            set_dialog(t.session, t.svc.clock, t.user.id, SUBJECT,
                       {**dialog.data, "sop": sop.code})
            replies = [Reply(t.t("mulai.ask_subject", sop=_sop_name(t, sop)))]
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)
    await query.answer(answer or None, show_alert=bool(answer))


def _summary(t: Turn, data: dict[str, object]) -> Reply:
    sop = t.svc.registry.get(str(data["sop"]))
    assert sop is not None
    draft = str(data["draft"])
    rows = [
        [(t.t("button.start_sop"), callbacks.start_draft("send", draft))],
        [(t.t("button.edit_order"), callbacks.start_draft("edit", draft))],
        [(t.t("button.cancel"), callbacks.start_draft("cancel", draft))],
    ]
    return Reply(t.t("mulai.summary", sop=_sop_name(t, sop), subject=str(data["subject"]),
                     purpose=str(data["purpose"]), activity=sop.first.activity,
                     roles=render.roles_text(t.svc.tr, t.lang, sop.first.roles)),
                 render.keyboard(rows))


def on_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """Take the typed subject or instruction, depending on where the official is."""
    message = update.effective_message
    assert message is not None
    assert t.user.id is not None
    data = dict(dialog.data)
    if dialog.state == SUBJECT:
        if not message.text:
            return [Reply(t.t("error.expect_text"))]
        data["subject"] = clean_text(message.text, limit=MAX_SUBJECT)
        set_dialog(t.session, t.svc.clock, t.user.id, PURPOSE, data)
        return [Reply(t.t("mulai.ask_purpose"))]
    if dialog.state == PURPOSE:
        if not message.text:
            return [Reply(t.t("error.expect_text"))]
        data["purpose"] = clean_text(message.text, limit=MAX_PURPOSE)
        set_dialog(t.session, t.svc.clock, t.user.id, CONFIRM, data)
        return [_summary(t, data)]
    return [Reply(t.t("req.use_buttons"))]


async def on_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start, correct or cancel the order shown in the summary."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.START_DRAFT, query.data)
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
                done = t.session.exec(select(Case).where(Case.request_key == _key(t, draft))
                                      ).first()
                answer = (t.t("mulai.already_started", agenda=done.agenda_number) if done
                          else t.t("error.stale_button"))
            elif dialog.state != CONFIRM:
                answer = t.t("error.stale_button")
            else:
                try:
                    with t.session.begin_nested():
                        replies = _confirm(t, dialog, verb)
                except KimError as exc:
                    answer = t.t(exc.key, **exc.params)
    if replies:
        await query.edit_message_reply_markup(None)
    await send_replies(update, replies)
    await query.answer(answer or None, show_alert=bool(answer))


def _confirm(t: Turn, dialog: Dialog, verb: str) -> list[Reply]:
    assert t.user.id is not None
    data = dict(dialog.data)
    if verb == "cancel":
        clear_dialog(t.session, t.user.id)
        return [Reply(t.t("mulai.cancelled"))]
    if verb == "edit":
        set_dialog(t.session, t.svc.clock, t.user.id, SUBJECT, data)
        sop = t.svc.registry.get(str(data["sop"]))
        assert sop is not None
        return [Reply(t.t("mulai.ask_subject", sop=_sop_name(t, sop)))]
    case, _ = t.svc.workflow.start_internal(
        t.session, t.user, str(data["sop"]), subject=str(data["subject"]),
        purpose=str(data["purpose"]), request_key=_key(t, str(data["draft"])))
    clear_dialog(t.session, t.user.id)
    sop = t.svc.workflow.sop_of(case)
    office = t.svc.registry.offices[case.office]
    return [Reply(t.t("mulai.receipt", sop=_sop_name(t, sop), agenda=case.agenda_number,
                      received=t.svc.tr.when(t.lang, from_db(case.created_at), office.timezone),
                      subject=case.subject))]


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["mulai", "start_sop"], start_sop))
    app.add_handler(CallbackQueryHandler(on_pick, pattern=callbacks.START_SOP))
    app.add_handler(CallbackQueryHandler(on_confirm, pattern=callbacks.START_DRAFT))
