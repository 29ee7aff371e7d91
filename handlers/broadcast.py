"""Announcements: the admin's /siaran dialog, /berhenti and /langganan, and the broadcaster.

/siaran: content (text, or a photo/document with a caption) → audience (all members, by
kecamatan, by KIM group, officials of a role [in an office]) → preview (the message as
recipients will see it, and how many they are) → Kirim / Batal. While it goes out one
admin message shows a progress bar, edited at most every `PROGRESS_S` seconds, with a
button that stops it; a report follows at the end.

The `Broadcaster` sends running broadcasts in the background through the rate limiter
the outbox sender uses (`bot.ratelimit`), as a background sender: notifications go
first, replies to people are not paced at all. It resumes by itself after a restart;
the delivery rules (claims, at-most-once after a crash) live in `bot.broadcast`.

Each of `WORKERS` tasks takes a claimed delivery, waits for a token, then the row is
committed `sending` and its request written to the worker's own connection in the same
event-loop step (`handlers/rawapi.py`; commits of workers ready together are shared),
then the answer is read and the outcome recorded. Behind an HTTP proxy the request goes
through PTB instead (the same rules, with a wider window after the commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot import broadcast as core
from bot.broadcast import Audience, Claim, Progress
from bot.dialogs import clear_dialog, get_dialog, set_dialog
from bot.errors import BadInput, KimError, NotAllowed
from bot.models import Broadcast, Dialog, User
from bot.people import language_of
from bot.ratelimit import RateLimiter
from handlers import callbacks, render
from handlers.common import Reply, send_replies
from handlers.context import KEY, Services, Turn, turn
from handlers.rawapi import Connection, NoAnswer, NotSent, RawBotApi

log = logging.getLogger(__name__)

BOT_DATA_KEY = "broadcaster"
MAX_OPTIONS = 40  # kecamatan / groups listed as buttons (the largest first)
LABEL_CHARS = 64
BAR_CELLS = 10


def _allowed(t: Turn) -> bool:
    """May this person broadcast? The one place that asks (office admins may come)."""
    return t.svc.is_admin(t.user.external_id)


# =============================================================== content and texts


@dataclass(frozen=True)
class Content:
    text: str
    media_kind: str = ""
    media_ref: str = ""

    @classmethod
    def of(cls, row: Broadcast) -> Content:
        return cls(row.text, row.media_kind, row.media_ref)


async def send_content(bot: Bot, chat_id: str | int, content: Content) -> Message:
    """The announcement exactly as every recipient gets it (preview included)."""
    caption = content.text or None
    if content.media_kind == "photo":
        return await bot.send_photo(chat_id, content.media_ref, caption=caption)
    if content.media_kind == "document":
        return await bot.send_document(chat_id, content.media_ref, caption=caption)
    return await bot.send_message(chat_id, content.text)


def _bar(done: int, total: int) -> tuple[str, int]:
    percent = 100 if total <= 0 else min(100, done * 100 // total)
    full = percent * BAR_CELLS // 100
    return "▓" * full + "░" * (BAR_CELLS - full), percent


def duration_text(svc: Services, lang: str, seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return svc.tr.text(lang, "bc.duration_h", h=hours, m=minutes)
    if minutes:
        return svc.tr.text(lang, "bc.duration_m", m=minutes, s=secs)
    return svc.tr.text(lang, "bc.duration_s", s=secs)


def progress_text(svc: Services, lang: str, state: Progress) -> str:
    """The admin's progress message: bar and counts (sent/failed/unreachable/left)."""
    bar, percent = _bar(state.done, state.total)
    key = {"running": "bc.progress", "finished": "bc.progress_finished"}.get(
        state.status, "bc.progress_cancelled")
    return svc.tr.text(lang, key, id=state.broadcast_id, bar=bar, percent=percent,
                       total=state.total, sent=state.sent, failed=state.failed,
                       unreachable=state.unreachable, left=state.left)


def report_text(svc: Services, lang: str, state: Progress) -> str:
    """The final report: sent, failed, unreachable, time taken."""
    key = "bc.report" if state.status == core.FINISHED else "bc.report_cancelled"
    lines = [svc.tr.text(
        lang, key, id=state.broadcast_id, total=state.total, sent=state.sent,
        failed=state.failed, unreachable=state.unreachable,
        duration=duration_text(svc, lang, state.elapsed_s(svc.clock.now())))]
    if state.unconfirmed:
        lines.append(svc.tr.text(lang, "bc.report_unconfirmed", count=state.unconfirmed))
    if state.skipped:
        lines.append(svc.tr.text(lang, "bc.report_skipped", count=state.skipped))
    if state.cancelled:
        lines.append(svc.tr.text(lang, "bc.report_not_sent", count=state.cancelled))
    return "\n".join(lines)


def _stop_keyboard(svc: Services, lang: str, broadcast_id: int) -> InlineKeyboardMarkup | None:
    return render.keyboard([[(svc.tr.text(lang, "bc.button_stop"),
                              callbacks.broadcast_stop(broadcast_id))]])


# =============================================================== the admin's dialog


def _nonce() -> str:
    return secrets.token_urlsafe(6)[:8]


def _label(text: str, count: int) -> str:
    text = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    return f"{text} ({count})"


async def start_broadcast(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Begin an announcement (/siaran)."""
    with turn(update, context) as t:
        assert t.user.id is not None
        if not _allowed(t):
            replies = [Reply(t.t("error.admin_only"))]
        else:
            set_dialog(t.session, t.svc.clock, t.user.id, "bc_content", {"nonce": _nonce()})
            replies = [Reply(t.t("bc.ask_content", text=core.MAX_TEXT,
                                 caption=core.MAX_CAPTION))]
    await send_replies(update, replies)


def _content_of(update: Update) -> tuple[str, str, str]:
    """(text, media kind, file id) of the admin's message; BadInput for anything else."""
    message = update.effective_message
    assert message is not None
    if message.photo:
        return message.caption or "", "photo", message.photo[-1].file_id
    if message.document:
        return message.caption or "", "document", message.document.file_id
    if message.text:
        return message.text, "", ""
    raise BadInput("bc.expect_content", text=core.MAX_TEXT, caption=core.MAX_CAPTION)


def on_message(update: Update, t: Turn, dialog: Dialog) -> list[Reply]:
    """The content of the announcement (router: dialog state bc_*)."""
    assert t.user.id is not None
    if not _allowed(t):
        clear_dialog(t.session, t.user.id)
        return [Reply(t.t("error.admin_only"))]
    if dialog.state != "bc_content":
        return [Reply(t.t("bc.use_buttons"))]
    text, kind, ref = _content_of(update)
    row = core.create_draft(t.session, t.svc.clock, t.user.id, text, media_kind=kind,
                            media_ref=ref)
    data = {**dialog.data, "bid": row.id}
    set_dialog(t.session, t.svc.clock, t.user.id, "bc_audience", data)
    return [_audience_menu(t, data)]


def _audience_menu(t: Turn, data: dict[str, Any]) -> Reply:
    nonce = str(data["nonce"])
    everyone = core.count_recipients(t.session, Audience("members"))
    rows = [
        [(t.t("bc.button_all", count=everyone), callbacks.broadcast("all", nonce))],
        [(t.t("bc.button_district"), callbacks.broadcast("dist", nonce))],
        [(t.t("bc.button_group"), callbacks.broadcast("grp", nonce))],
        [(t.t("bc.button_role"), callbacks.broadcast("role", nonce))],
        [(t.t("bc.button_cancel"), callbacks.broadcast("cancel", nonce))],
    ]
    return Reply(t.t("bc.choose_audience"), render.keyboard(rows))


def _picker(t: Turn, data: dict[str, Any]) -> Reply:
    """Kecamatan or KIM groups as toggle buttons with their member counts."""
    nonce = str(data["nonce"])
    chosen = set(data.get("chosen") or [])
    rows = [[(("☑ " if i in chosen else "☐ ") + _label(value, count),
              callbacks.broadcast_pick(i, nonce))]
            for i, (value, count) in enumerate(data["options"])]
    rows.append([(t.t("bc.button_back"), callbacks.broadcast("back", nonce)),
                 (t.t("bc.button_next"), callbacks.broadcast("next", nonce))])
    key = "bc.choose_districts" if data["kind"] == "district" else "bc.choose_groups"
    text = t.t(key)
    if data.get("more"):
        text += "\n" + t.t("bc.more_options", count=data["more"])
    return Reply(text, render.keyboard(rows))


def _role_menu(t: Turn, data: dict[str, Any]) -> Reply:
    nonce = str(data["nonce"])
    rows = [[(_label(t.svc.tr.role(t.lang, role), count), callbacks.broadcast_pick(i, nonce))]
            for i, (role, count) in enumerate(data["options"])]
    rows.append([(t.t("bc.button_back"), callbacks.broadcast("back", nonce))])
    return Reply(t.t("bc.choose_role"), render.keyboard(rows))


def _office_menu(t: Turn, data: dict[str, Any]) -> Reply:
    nonce = str(data["nonce"])
    role = str(data["role"])
    everywhere = core.count_recipients(t.session, Audience("role", role=role))
    rows = [[(t.t("bc.button_all_offices", count=everywhere), callbacks.broadcast_pick(0, nonce))]]
    for i, code in enumerate(data["offices"], start=1):
        office = t.svc.registry.offices[code]
        n = core.count_recipients(t.session, Audience("role", role=role, office=code))
        rows.append([(_label(office.name, n), callbacks.broadcast_pick(i, nonce))])
    rows.append([(t.t("bc.button_back"), callbacks.broadcast("back", nonce))])
    return Reply(t.t("bc.choose_office", role=t.svc.tr.role(t.lang, role)),
                 render.keyboard(rows))


def _describe(t: Turn, audience: Audience) -> str:
    return _describe_in(t.svc, t.lang, audience)


def _describe_in(svc: Services, lang: str, audience: Audience) -> str:
    """Who receives it, in words."""
    if audience.kind == "district":
        return svc.tr.text(lang, "bc.audience_district", values=", ".join(audience.values))
    if audience.kind == "group":
        return svc.tr.text(lang, "bc.audience_group", values=", ".join(audience.values))
    if audience.kind == "role":
        office = svc.registry.offices.get(audience.office or "")
        return svc.tr.text(lang, "bc.audience_role", role=svc.tr.role(lang, audience.role or ""),
                           office=office.name if office else svc.tr.text(lang, "bc.all_offices"))
    return svc.tr.text(lang, "bc.audience_members")


@dataclass
class _Step:
    """What a button press leads to, done after the commit."""

    answer: str = ""
    edit: Reply | None = None  # the pressed message becomes this
    preview: Content | None = None  # then the announcement as recipients will see it
    replies: list[Reply] = field(default_factory=list)
    launch: int | None = None  # a broadcast to start


def _scoped(t: Turn, audience: Audience) -> Audience:
    """An office-limited admin reaches only their own office's people."""
    mine = t.svc.admin_offices(t.user.external_id)
    if set(mine) == set(t.svc.registry.offices):
        return audience
    if audience.office is None and len(mine) == 1:
        return replace(audience, office=mine[0])
    if audience.office not in mine:
        raise NotAllowed("error.not_allowed")
    return audience


def _preview(t: Turn, data: dict[str, Any], audience: Audience) -> _Step:
    assert t.user.id is not None
    audience = _scoped(t, audience)
    bid = int(data["bid"])
    count = core.set_audience(t.session, bid, audience)
    data = {**data, "audience": audience.to_json()}
    set_dialog(t.session, t.svc.clock, t.user.id, "bc_confirm", data)
    nonce = str(data["nonce"])
    row = t.session.get(Broadcast, bid)
    assert row is not None
    described = _describe(t, audience)
    edit = Reply(t.t("bc.audience_chosen", audience=described))
    if count == 0:
        rows = [[(t.t("bc.button_back"), callbacks.broadcast("back", nonce)),
                 (t.t("bc.button_cancel"), callbacks.broadcast("cancel", nonce))]]
        return _Step(edit=edit, replies=[Reply(t.t("bc.no_recipients", audience=described),
                                               render.keyboard(rows))])
    rows = [[(t.t("bc.button_send", count=count), callbacks.broadcast("send", nonce))],
            [(t.t("bc.button_back"), callbacks.broadcast("back", nonce)),
             (t.t("bc.button_cancel"), callbacks.broadcast("cancel", nonce))]]
    return _Step(edit=edit, preview=Content.of(row), replies=[
        Reply(t.t("bc.preview", count=count, audience=described), render.keyboard(rows))])


def _on_step(t: Turn, dialog: Dialog, verb: str) -> _Step:
    assert t.user.id is not None
    data = dict(dialog.data)
    state = dialog.state
    if verb == "cancel":
        if data.get("bid"):
            core.cancel(t.session, t.svc.clock, int(data["bid"]))
        clear_dialog(t.session, t.user.id)
        return _Step(edit=Reply(t.t("bc.cancelled_draft")))
    if state == "bc_content":
        return _Step(answer=t.t("bc.use_message"))
    if verb == "back":
        set_dialog(t.session, t.svc.clock, t.user.id, "bc_audience", data)
        return _Step(edit=_audience_menu(t, data))
    if verb == "all" and state == "bc_audience":
        return _preview(t, data, Audience("members"))
    if verb in ("dist", "grp") and state == "bc_audience":
        kind = "district" if verb == "dist" else "group"
        known = core.audience_values(t.session, kind)
        if not known:
            return _Step(answer=t.t("bc.none_known"))
        data.update(kind=kind, options=[list(v) for v in known[:MAX_OPTIONS]], chosen=[],
                    more=max(0, len(known) - MAX_OPTIONS))
        set_dialog(t.session, t.svc.clock, t.user.id, "bc_pick", data)
        return _Step(edit=_picker(t, data))
    if verb == "role" and state == "bc_audience":
        data.update(options=[list(v) for v in core.role_counts(t.session)])
        set_dialog(t.session, t.svc.clock, t.user.id, "bc_role", data)
        return _Step(edit=_role_menu(t, data))
    if verb == "next" and state == "bc_pick":
        chosen = sorted(set(data.get("chosen") or []))
        if not chosen:
            return _Step(answer=t.t("bc.pick_one"))
        values = tuple(str(data["options"][i][0]) for i in chosen)
        return _preview(t, data, Audience(str(data["kind"]), values=values))
    if verb == "send" and state == "bc_confirm":
        # Started after this commit, once its progress message exists (see _launch).
        clear_dialog(t.session, t.user.id)
        return _Step(launch=int(data["bid"]))
    return _Step(answer=t.t("error.stale_button"))


def _on_pick(t: Turn, dialog: Dialog, index: int) -> _Step:
    assert t.user.id is not None
    data = dict(dialog.data)
    options = data.get("options") or []
    if dialog.state == "bc_pick" and index < len(options):
        chosen = set(data.get("chosen") or [])
        chosen ^= {index}
        data["chosen"] = sorted(chosen)
        set_dialog(t.session, t.svc.clock, t.user.id, "bc_pick", data)
        return _Step(edit=_picker(t, data))
    if dialog.state == "bc_role" and index < len(options):
        data.update(role=str(options[index][0]),
                    offices=t.svc.admin_offices(t.user.external_id))
        set_dialog(t.session, t.svc.clock, t.user.id, "bc_office", data)
        return _Step(edit=_office_menu(t, data))
    offices = data.get("offices") or []
    if dialog.state == "bc_office" and index <= len(offices):
        office = None if index == 0 else str(offices[index - 1])
        return _preview(t, data, Audience("role", role=str(data["role"]), office=office))
    return _Step(answer=t.t("error.stale_button"))


async def _press(
    update: Update, context: ContextTypes.DEFAULT_TYPE, pattern: Any, kind: str,
) -> None:
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(pattern, query.data)
    step = _Step()
    with turn(update, context) as t:
        assert t.user.id is not None
        dialog = get_dialog(t.session, t.user.id)
        if groups is None:
            step.answer = t.t("error.forged")
        elif not _allowed(t):
            step.answer = t.t("error.admin_only")
        elif dialog is None or not dialog.state.startswith("bc_") or (
                dialog.data.get("nonce") != groups[-1]):
            step.answer = t.t("error.stale_button")
        else:
            try:
                with t.session.begin_nested():
                    step = (_on_step(t, dialog, groups[0]) if kind == "step"
                            else _on_pick(t, dialog, int(groups[0])))
            except KimError as exc:
                step = _Step(answer=t.t(exc.key, **exc.params))
        lang = t.lang
        svc = t.svc
        chat_id = t.user.chat_id
    await query.answer(step.answer or None, show_alert=bool(step.answer))
    if step.edit is not None:
        with contextlib.suppress(BadRequest):  # unchanged, or the message is too old
            await query.edit_message_text(render.clip(step.edit.text),
                                          reply_markup=step.edit.markup)  # type: ignore[arg-type]
    if step.preview is not None:
        await send_content(context.bot, chat_id, step.preview)
    await send_replies(update, step.replies)
    if step.launch is not None:
        await _launch(update, context, svc, lang, chat_id, step.launch)


async def _launch(update: Update, context: ContextTypes.DEFAULT_TYPE, svc: Services, lang: str,
                  chat_id: str, broadcast_id: int) -> None:
    """Post the progress message, then start the broadcast with it (one transaction), so
    the broadcaster always knows the message to edit; then wake the broadcaster."""
    query = update.callback_query
    assert query is not None
    message = await context.bot.send_message(chat_id, svc.tr.text(lang, "bc.starting"))
    with svc.db.session() as session:
        row, started = core.start(session, svc.clock, broadcast_id, progress_chat_id=chat_id,
                                  progress_message_id=message.message_id)
        state = core.progress(session, broadcast_id)
        audience = Audience.from_json(row.audience) if row.audience else None
    if not started:  # pressed twice, or started elsewhere
        await message.edit_text(svc.tr.text(lang, "bc.already_started"))
        return
    assert audience is not None
    described = _describe_in(svc, lang, audience)
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(svc.tr.text(lang, "bc.sending", count=row.total,
                                                  audience=described))
    if row.total == 0:
        await message.edit_text(svc.tr.text(lang, "bc.no_recipients", audience=described))
        return
    await message.edit_text(progress_text(svc, lang, state),
                            reply_markup=_stop_keyboard(svc, lang, broadcast_id))
    broadcaster: Broadcaster | None = context.application.bot_data.get(BOT_DATA_KEY)
    if broadcaster is not None:
        broadcaster.wake()


async def on_step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A dialog button: audience kind, next, back, send, cancel."""
    await _press(update, context, callbacks.BROADCAST, "step")


async def on_pick(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Toggle a kecamatan / KIM group, or choose a role / an office."""
    await _press(update, context, callbacks.BROADCAST_PICK, "pick")


async def on_stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The Batalkan button on the progress message: nothing more goes out."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.BROADCAST_STOP, query.data)
    stopped: int | None = None
    with turn(update, context) as t:
        if groups is None:
            answer = t.t("error.forged")
        elif not _allowed(t):
            answer = t.t("error.admin_only")
        elif core.cancel(t.session, t.svc.clock, int(groups[0])):
            answer, stopped = t.t("bc.stopped"), int(groups[0])
        else:
            answer = t.t("bc.not_running")
        svc, lang = t.svc, t.lang
    await query.answer(answer, show_alert=stopped is None)
    if stopped is None:
        return
    broadcaster: Broadcaster | None = context.application.bot_data.get(BOT_DATA_KEY)
    if broadcaster is not None and broadcaster.cancelled(stopped):
        return  # its run reports once the sends in flight are settled
    with svc.db.session() as session:
        state = core.progress(session, stopped)
        core.sync_counters(session, state)
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(progress_text(svc, lang, state))
    if query.message is not None:
        await context.bot.send_message(query.message.chat.id, report_text(svc, lang, state))


# =============================================================== opting out and in


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/berhenti: no more announcements."""
    with turn(update, context) as t:
        changed = core.set_subscribed(t.session, t.user, False)
        replies = [Reply(t.t("sub.stopped" if changed else "sub.already_stopped"))]
    await send_replies(update, replies)


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/langganan: announcements again."""
    with turn(update, context) as t:
        changed = core.set_subscribed(t.session, t.user, True)
        replies = [Reply(t.t("sub.started" if changed else "sub.already_started"))]
    await send_replies(update, replies)


# =============================================================== the broadcaster


WORKERS = 8  # sends in flight at once (all paced by the shared limiter)
BATCH = 32  # deliveries claimed at a time
MAX_TRIES = 3  # for errors where Telegram answered or the request never left
MAX_LIMITED = 20  # 429 answers for one delivery before it counts as failed
PROGRESS_S = 2.0  # the admin's progress message is edited at most this often
STOP_GRACE_S = 10.0  # on shutdown, how long sends in flight may take to finish
SENT_FLUSH_S = 0.05  # confirmed sends are written at least this often

DONE, RETRY, LIMITED = "done", "retry", "limited"
_GONE = ("chat not found", "user is deactivated")  # 400s that mean: nobody to write to
USE_RAW = True  # send through `rawapi` when possible (tests switch it off for PTB's path)


class _Link:
    """A worker's connection to the Bot API, made on first use and after a failure."""

    def __init__(self, api: RawBotApi) -> None:
        self.api = api
        self.connection: Connection | None = None

    async def ready(self) -> Connection:
        if self.connection is None or not self.connection.fresh:
            self.drop()
            self.connection = await self.api.connect()
        return self.connection

    def drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def close(self) -> None:
        self.drop()


class _Coalesce:
    """Rows the workers mark in the same event-loop turn go in one UPDATE (one commit).

    `begin` waits for its commit (a row must be `sending` before its request leaves);
    `sent` does not, it is written with the next commit or within `SENT_FLUSH_S`: a
    confirmed send recorded a moment later is still at most once (a crash in between
    leaves it `sending`, settled as `unconfirmed`, never repeated).
    """

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._begin: dict[int, tuple[asyncio.Future[bool], Callable[[], None] | None]] = {}
        self._sent: list[int] = []
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_begin)

    async def begin(self, delivery_id: int, write: Callable[[], None] | None = None) -> bool:
        """Claimed → sending, committed; then `write()` (the request leaves) at once, in the
        same event-loop step. False: the row is not ours any more (nothing written)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._begin[delivery_id] = (future, write)
        self._schedule()
        return await future

    def sent(self, delivery_id: int) -> None:
        self._sent.append(delivery_id)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(SENT_FLUSH_S, self.flush)

    def _flush_begin(self) -> None:
        self._scheduled = False
        self._write(self._take_begin(), [])

    def _take_begin(self) -> dict[int, tuple[asyncio.Future[bool], Callable[[], None] | None]]:
        begin, self._begin = self._begin, {}
        return begin

    def flush(self) -> None:
        """Write everything waiting (before reading progress, finishing, stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        sent, self._sent = self._sent, []
        self._write(self._take_begin(), sent)

    def _write(self, begin: dict[int, tuple[asyncio.Future[bool], Callable[[], None] | None]],
               sent: list[int]) -> None:
        if not begin and not sent:
            return
        try:
            with self.svc.db.session() as session:
                core.mark_sent(session, self.svc.clock, sent)
                mine = core.begin_sending(session, list(begin))
        except Exception as exc:
            log.exception("broadcast: recording deliveries failed")
            self._sent[:0] = sent  # tried again with the next write
            for future, _ in begin.values():
                if not future.done():
                    future.set_exception(exc)
            return
        # Committed: now the requests leave, before anything else runs.
        for delivery_id, (future, write) in begin.items():
            ours = delivery_id in mine
            try:
                if ours and write is not None:
                    write()
            except NotSent as exc:
                future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(ours)


class _Run:
    """One running broadcast in this process: workers, progress ticker, final report."""

    def __init__(self, owner: Broadcaster, broadcast_id: int) -> None:
        self.owner = owner
        self.svc = owner.svc
        self.id = broadcast_id
        with self.svc.db.session() as session:
            row = session.get(Broadcast, broadcast_id)
            assert row is not None
            self.content = Content.of(row)
            creator = session.get(User, row.created_by)
        self.lang = (language_of(creator, self.svc.settings.default_language)
                     if creator is not None else self.svc.settings.default_language)
        self.buffer: deque[Claim] = deque()
        self.holding: set[int] = set()  # taken by a worker, not settled
        self.critical: set[asyncio.Task[str]] = set()
        self.cancelled = False
        self.stopping = False
        self.shown = ""
        self.task: asyncio.Task[None] | None = None
        self.marks = _Coalesce(self.svc)
        self.links: list[_Link] = []

    # -- workers --------------------------------------------------------------------------

    def _next(self) -> Claim | None:
        if not self.buffer:
            with self.svc.db.session() as session:
                self.buffer.extend(core.claim_batch(session, self.id, BATCH))
        return self.buffer.popleft() if self.buffer else None

    async def _worker(self) -> None:
        link = _Link(self.owner.raw) if self.owner.raw is not None else None
        if link is not None:
            self.links.append(link)  # closed once no request is under way on it
        while not (self.cancelled or self.stopping):
            job = self._next()
            if job is None:
                return
            self.holding.add(job.delivery_id)
            try:
                await self._deliver(job, link)
            except Exception:  # a bug or the database: leave the row claimed, go on
                log.exception("broadcast %s: delivery %s", self.id, job.delivery_id)

    async def _deliver(self, job: Claim, link: _Link | None) -> None:
        limiter = self.owner.limiter
        tries = limited = 0
        while True:
            await limiter.acquire(job.chat_id, background=True)
            if self.cancelled or self.stopping:
                return  # still claimed: released on stop, cancelled with the broadcast
            task = asyncio.create_task(self._send_once(job) if link is None
                                       else self._send_raw(job, link))
            self.critical.add(task)
            task.add_done_callback(self.critical.discard)
            # A shutdown does not interrupt a request under way: the row would stay in doubt.
            outcome = await asyncio.shield(task)
            if outcome == DONE:
                return
            if outcome == LIMITED:
                limited += 1
                if limited < MAX_LIMITED:
                    continue
            else:
                tries += 1
                if tries < MAX_TRIES:
                    await asyncio.sleep(float(2 ** (tries - 1)))
                    continue
            self._settle(job, core.mark_failed, "gave up after retries")
            return

    def _settle(self, job: Claim, mark: Any, error: str) -> None:
        """A final outcome: failed, unreachable or unconfirmed (with why)."""
        with self.svc.db.session() as session:
            mark(session, job.delivery_id, error)
        self.holding.discard(job.delivery_id)

    def _params(self, chat_id: str) -> tuple[str, dict[str, Any]]:
        content = self.content
        chat: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        if content.media_kind in ("photo", "document"):
            params: dict[str, Any] = {"chat_id": chat, content.media_kind: content.media_ref}
            if content.text:
                params["caption"] = content.text
            return ("sendPhoto" if content.media_kind == "photo" else "sendDocument"), params
        return "sendMessage", {"chat_id": chat, "text": content.text}

    async def _send_raw(self, job: Claim, link: _Link) -> str:
        """As `_send_once`, through `rawapi`: commit and request in one event-loop step."""
        assert self.owner.raw is not None
        try:
            connection = await link.ready()
        except NotSent as exc:  # still only claimed: nothing to undo
            log.warning("broadcast %s: %s", self.id, exc)
            return RETRY
        request = self.owner.raw.request(*self._params(job.chat_id))
        try:
            if not await self.marks.begin(job.delivery_id,
                                          lambda: connection.write(request)):
                self.holding.discard(job.delivery_id)  # cancelled or released meanwhile
                return DONE
            answer = await connection.answer()
        except NotSent as exc:  # it did not leave after all (closed connection)
            link.drop()
            return self._again(job, str(exc), RETRY)
        except NoAnswer as exc:  # it left; maybe delivered: never repeated
            link.drop()
            self._settle(job, core.mark_unconfirmed, str(exc))
            return DONE
        if answer.ok:
            self.marks.sent(job.delivery_id)
            self.holding.discard(job.delivery_id)
            return DONE
        error = f"{answer.error_code}: {answer.description}"
        if answer.error_code == 429 or answer.retry_after is not None:
            self.owner.limiter.pause(answer.retry_after or 1.0)
            return self._again(job, error, LIMITED)
        if answer.error_code == 403:
            self._settle(job, core.mark_unreachable, f"unreachable: {error}")
        elif answer.error_code == 400:
            gone = any(s in answer.description.lower() for s in _GONE)
            self._settle(job, core.mark_unreachable if gone else core.mark_failed, error)
        else:  # 5xx and the like: Telegram answered, so it was not delivered
            return self._again(job, error, RETRY)
        return DONE

    async def _send_once(self, job: Claim) -> str:
        """sending → one request → its outcome; the whole of it runs even during a stop."""
        if not await self.marks.begin(job.delivery_id):  # cancelled or released meanwhile
            self.holding.discard(job.delivery_id)
            return DONE
        try:
            await send_content(self.owner.bot, job.chat_id, self.content)
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            self.owner.limiter.pause(seconds)
            return self._again(job, f"429 retry after {seconds:g}", LIMITED)
        except Forbidden as exc:
            self._settle(job, core.mark_unreachable, f"unreachable: {exc.message}")
        except BadRequest as exc:
            gone = any(s in exc.message.lower() for s in _GONE)
            self._settle(job, core.mark_unreachable if gone else core.mark_failed,
                         f"bad request: {exc.message}")
        except TimedOut as exc:
            if "not* sent" in exc.message:  # pool timeout: the request never left
                return self._again(job, exc.message, RETRY)
            self._settle(job, core.mark_unconfirmed, f"no answer: {exc.message}")
        except NetworkError as exc:
            if exc.message.startswith("httpx.Connect"):  # never reached Telegram
                return self._again(job, exc.message, RETRY)
            if exc.message.startswith("httpx."):  # cut off after sending: maybe delivered
                self._settle(job, core.mark_unconfirmed, f"no answer: {exc.message}")
            else:  # Telegram answered with an error (5xx): not delivered
                return self._again(job, exc.message, RETRY)
        except TelegramError as exc:
            return self._again(job, exc.message, RETRY)
        except Exception as exc:  # a bug: record it, keep going with the others
            log.exception("broadcast %s: sending delivery %s failed", self.id, job.delivery_id)
            self._settle(job, core.mark_failed, f"error: {exc!r}")
        else:
            self.marks.sent(job.delivery_id)
            self.holding.discard(job.delivery_id)
        return DONE

    def _again(self, job: Claim, error: str, outcome: str) -> str:
        with self.svc.db.session() as session:
            core.back_to_claimed(session, job.delivery_id, error)
        return outcome

    # -- progress -------------------------------------------------------------------------

    def _state(self) -> tuple[Progress, str, int | None]:
        self.marks.flush()
        with self.svc.db.session() as session:
            state = core.progress(session, self.id)
            core.sync_counters(session, state)
            row = session.get(Broadcast, self.id)
            assert row is not None
            return state, row.progress_chat_id, row.progress_message_id

    async def _show(self, state: Progress, chat_id: str, message_id: int | None,
                    *, final: bool = False) -> None:
        if not chat_id or message_id is None:
            return
        text = progress_text(self.svc, self.lang, state)
        if text == self.shown and not final:
            return
        markup = None if final else _stop_keyboard(self.svc, self.lang, self.id)
        await self.owner.limiter.acquire(chat_id)
        try:
            await self.owner.bot.edit_message_text(text, chat_id, message_id,
                                                   reply_markup=markup)
            self.shown = text
        except BadRequest as exc:
            if "not modified" not in exc.message:
                log.warning("broadcast %s: progress edit refused: %s", self.id, exc.message)
        except TelegramError as exc:
            log.warning("broadcast %s: progress edit failed: %s", self.id, exc)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.owner.progress_s)
            try:
                state, chat_id, message_id = self._state()
                if state.status == core.CANCELLED:
                    self.cancelled = True  # stopped by another worker process
                await self._show(state, chat_id, message_id)
            except Exception:
                log.exception("broadcast %s: progress update failed", self.id)

    # -- life -----------------------------------------------------------------------------

    async def main(self) -> None:
        ticker = asyncio.create_task(self._ticker())
        try:
            await asyncio.gather(*(self._worker() for _ in range(WORKERS)))
        finally:
            if not self.critical:
                self._close_links()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        self._release()  # rows a failed worker left claimed: pending again for the next run
        await self._finish()

    async def _finish(self) -> None:
        svc = self.svc
        if self.cancelled:
            state, chat_id, message_id = self._state()
        else:
            self.marks.flush()
            with svc.db.session() as session:
                final = core.finish_if_done(session, svc.clock, self.id)
                row = session.get(Broadcast, self.id)
                assert row is not None
                chat_id, message_id = row.progress_chat_id, row.progress_message_id
            if final is None:
                return  # still sent elsewhere, or finished by another process
            state = final
        await self._show(state, chat_id, message_id, final=True)
        if chat_id:
            await self.owner.limiter.acquire(chat_id)
            try:
                await self.owner.bot.send_message(chat_id, report_text(svc, self.lang, state))
            except TelegramError as exc:
                log.warning("broadcast %s: report not delivered: %s", self.id, exc)
        log.info("broadcast %s %s: %s", self.id, state.status, state.counts)

    def _release(self) -> None:
        leftovers = [c.delivery_id for c in self.buffer] + list(self.holding)
        self.buffer.clear()
        self.holding.clear()
        if leftovers:
            with self.svc.db.session() as session:
                core.release(session, leftovers)

    def _close_links(self) -> None:
        for link in self.links:
            link.close()
        self.links.clear()

    async def stop(self) -> None:
        """Process shutdown: requests under way finish, rows not begun go back to pending."""
        self.stopping = True
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.critical:
            await asyncio.wait(set(self.critical), timeout=STOP_GRACE_S)
        self._close_links()
        self.marks.flush()
        self._release()


class Broadcaster:
    """Finds running broadcasts (also after a restart) and sends them, paced and resumable."""

    def __init__(self, svc: Services, bot: Bot, limiter: RateLimiter) -> None:
        self.svc = svc
        self.bot = bot
        self.limiter = limiter
        raw = RawBotApi(bot.base_url) if USE_RAW else None
        self.raw = raw if raw is not None and raw.usable() else None
        self.progress_s = PROGRESS_S
        self._runs: dict[int, _Run] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def cancelled(self, broadcast_id: int) -> bool:
        """The broadcast was cancelled: stop its run here. False when none runs here."""
        run = self._runs.get(broadcast_id)
        if run is None:
            return False
        run.cancelled = True
        return True

    async def start(self) -> None:
        with self.svc.db.session() as session:
            resumed = core.resume_running(session)
        if resumed:
            log.info("resuming broadcasts %s", resumed)
        self._task = asyncio.create_task(self._loop(), name="broadcaster")

    async def _loop(self) -> None:
        while True:
            try:
                self._spawn()
            except Exception:
                log.exception("broadcaster: looking for running broadcasts failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.svc.settings.outbox_poll_s)
            self._wake.clear()

    def _spawn(self) -> None:
        with self.svc.db.session() as session:
            ids = core.running_ids(session)
        for broadcast_id in ids:
            if broadcast_id in self._runs:
                continue
            run = _Run(self, broadcast_id)
            self._runs[broadcast_id] = run
            run.task = asyncio.create_task(self._run(run), name=f"broadcast-{broadcast_id}")

    async def _run(self, run: _Run) -> None:
        try:
            await run.main()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("broadcast %s: run failed", run.id)
        finally:
            if self._runs.get(run.id) is run and not run.stopping:
                del self._runs[run.id]  # anything left is looked at again at the next poll

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            await run.stop()


async def start_broadcaster(app: Application) -> None:  # type: ignore[type-arg,unused-ignore]
    """Start-up hook: resume what was running, share the outbox sender's rate limiter."""
    svc: Services = app.bot_data[KEY]
    sender = app.bot_data.get("sender")
    limiter = getattr(sender, "limiter", None) or RateLimiter.from_settings(svc.settings)
    broadcaster = Broadcaster(svc, app.bot, limiter)
    app.bot_data[BOT_DATA_KEY] = broadcaster
    await broadcaster.start()


async def stop_broadcaster(app: Application) -> None:  # type: ignore[type-arg,unused-ignore]
    broadcaster: Broadcaster | None = app.bot_data.pop(BOT_DATA_KEY, None)
    if broadcaster is not None:
        await broadcaster.stop()


def register(app: Application) -> None:  # type: ignore[type-arg,unused-ignore]
    app.add_handler(CommandHandler(["siaran", "broadcast"], start_broadcast))
    app.add_handler(CommandHandler(["berhenti", "unsubscribe"], unsubscribe))
    app.add_handler(CommandHandler(["langganan", "subscribe"], subscribe))
    app.add_handler(CallbackQueryHandler(on_step, pattern=callbacks.BROADCAST))
    app.add_handler(CallbackQueryHandler(on_pick, pattern=callbacks.BROADCAST_PICK))
    app.add_handler(CallbackQueryHandler(on_stop, pattern=callbacks.BROADCAST_STOP))


__all__ = ["Broadcaster", "start_broadcaster", "stop_broadcaster"]
