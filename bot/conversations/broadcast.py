"""Announcements: the admin's /siaran dialog, /berhenti and /langganan, and their texts.

/siaran: content (text, or a photo/document with a caption) → audience (all members, by
kecamatan, by KIM group, officials of a role [in an office]) → preview (the announcement
exactly as recipients get it, and how many they are) → Kirim / Batal. Launching and
stopping need channel work after the commit (the progress message): they are effects
(`LaunchBroadcast`, `BroadcastStopped`) the admin's channel adapter carries out. The
delivery itself is `bot.delivery`; the delivery rules are `bot.broadcast`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from pydantic import Field

from bot import broadcast as core
from bot.broadcast import Audience, Progress
from bot.conversations.dialog import DialogData, State
from bot.conversations.events import File, Text
from bot.conversations.intents import BroadcastPick, BroadcastStep, BroadcastStop
from bot.conversations.output import Button, Buttons, Edit, Message, Outcome, OutFile, alert, say
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput
from bot.i18n import Translator
from bot.models import Broadcast
from bot.services import Services

MAX_OPTIONS = 40  # kecamatan / groups listed as buttons (the largest first)
LABEL_CHARS = 64
BAR_CELLS = 10
MEDIA = ("photo", "document")
_STATES = (State.BC_CONTENT, State.BC_AUDIENCE, State.BC_PICK, State.BC_ROLE, State.BC_OFFICE,
           State.BC_CONFIRM)


# =============================================================== effects


@dataclass(frozen=True)
class LaunchBroadcast:
    """After the commit: post the progress message, start the broadcast with it, wake the
    sender. `lang` is the admin's language."""

    broadcast_id: int
    lang: str


@dataclass(frozen=True)
class BroadcastStopped:
    """After the commit: the broadcast was cancelled; its run (or the adapter) reports."""

    broadcast_id: int
    lang: str


# =============================================================== the dialog's data


class BroadcastDraft(DialogData):
    """/siaran: the draft being composed and the menu on screen."""

    nonce: str
    bid: int | None = None  # the draft broadcast, once the content arrived
    kind: str = ""  # district | group (the picker shown)
    options: list[tuple[str, int]] = Field(default_factory=list)  # (value or role, count)
    chosen: list[int] = Field(default_factory=list)  # indexes into options
    more: int = 0  # options not listed
    role: str = ""
    offices: list[str] = Field(default_factory=list)
    audience: dict[str, object] | None = None


# =============================================================== texts


def announcement(row: Broadcast) -> Message:
    """The announcement exactly as every recipient gets it (the preview too)."""
    if row.media_kind in MEDIA:
        return Message(files=[OutFile(kind=row.media_kind, caption=row.text,
                                      ref=row.media_ref, channel=row.media_channel,
                                      blob=row.media_blob or "")])
    return Message(row.text)


def _bar(done: int, total: int) -> tuple[str, int]:
    percent = 100 if total <= 0 else min(100, done * 100 // total)
    full = percent * BAR_CELLS // 100
    return "▓" * full + "░" * (BAR_CELLS - full), percent


def duration_text(tr: Translator, lang: str, seconds: float) -> str:
    """'1 jam 2 menit' / '3 menit 4 detik' / '5 detik'."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return tr.text(lang, "bc.duration_h", h=hours, m=minutes)
    if minutes:
        return tr.text(lang, "bc.duration_m", m=minutes, s=secs)
    return tr.text(lang, "bc.duration_s", s=secs)


def progress_text(tr: Translator, lang: str, state: Progress) -> str:
    """The admin's progress message: bar and counts (sent/failed/unreachable/left)."""
    bar, percent = _bar(state.done, state.total)
    key = {"running": "bc.progress", "finished": "bc.progress_finished"}.get(
        state.status, "bc.progress_cancelled")
    return tr.text(lang, key, id=state.broadcast_id, bar=bar, percent=percent,
                   total=state.total, sent=state.sent, failed=state.failed,
                   unreachable=state.unreachable, left=state.left)


def progress_message(tr: Translator, lang: str, state: Progress, *, final: bool) -> Message:
    """The progress message with its stop button (none once it is over)."""
    buttons: Buttons = [] if final else [[Button(tr.text(lang, "bc.button_stop"),
                                                 BroadcastStop(state.broadcast_id))]]
    return Message(progress_text(tr, lang, state), buttons)


def report_text(svc: Services, lang: str, state: Progress) -> str:
    """The final report: sent, failed, unreachable, time taken."""
    tr = svc.tr
    key = "bc.report" if state.status == core.FINISHED else "bc.report_cancelled"
    lines = [tr.text(
        lang, key, id=state.broadcast_id, total=state.total, sent=state.sent,
        failed=state.failed, unreachable=state.unreachable,
        duration=duration_text(tr, lang, state.elapsed_s(svc.clock.now())))]
    if state.unconfirmed:
        lines.append(tr.text(lang, "bc.report_unconfirmed", count=state.unconfirmed))
    if state.skipped:
        lines.append(tr.text(lang, "bc.report_skipped", count=state.skipped))
    if state.cancelled:
        lines.append(tr.text(lang, "bc.report_not_sent", count=state.cancelled))
    return "\n".join(lines)


def describe(svc: Services, lang: str, audience: Audience) -> str:
    """Who receives it, in words."""
    tr = svc.tr
    if audience.kind == "district":
        return tr.text(lang, "bc.audience_district", values=", ".join(audience.values))
    if audience.kind == "group":
        return tr.text(lang, "bc.audience_group", values=", ".join(audience.values))
    if audience.kind == "role":
        office = svc.registry.offices.get(audience.office or "")
        return tr.text(lang, "bc.audience_role", role=tr.role(lang, audience.role or ""),
                       office=office.name if office else tr.text(lang, "bc.all_offices"))
    return tr.text(lang, "bc.audience_members")


def _label(text: str, count: int) -> str:
    text = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    return f"{text} ({count})"


# =============================================================== menus


def _step(t: Turn, label_key: str, verb: str, data: BroadcastDraft, **params: object) -> Button:
    return Button(t.t(label_key, **params), BroadcastStep(verb, data.nonce))


def _own_office(t: Turn) -> str | None:
    """The one office an office-limited admin reaches (None: every office counts)."""
    mine = t.admin_offices()
    if set(mine) >= set(t.svc.registry.offices):
        return None
    return mine[0] if mine else None


def _audience_menu(t: Turn, data: BroadcastDraft) -> Message:
    everyone = core.count_recipients(t.session, Audience("members", office=_own_office(t)))
    rows: Buttons = [
        [_step(t, "bc.button_all", "all", data, count=everyone)],
        [_step(t, "bc.button_district", "dist", data)],
        [_step(t, "bc.button_group", "grp", data)],
        [_step(t, "bc.button_role", "role", data)],
        [_step(t, "bc.button_cancel", "cancel", data)],
    ]
    return Message(t.t("bc.choose_audience"), rows)


def _as_edit(message: Message) -> Edit:
    """The pressed message becomes this menu."""
    return Edit(text=message.text, buttons=message.buttons)


def _picker(t: Turn, data: BroadcastDraft) -> Edit:
    """Kecamatan or KIM groups as toggle buttons with their member counts."""
    chosen = set(data.chosen)
    rows: Buttons = [[Button(("☑ " if i in chosen else "☐ ") + _label(value, count),
                             BroadcastPick(i, data.nonce))]
                     for i, (value, count) in enumerate(data.options)]
    rows.append([_step(t, "bc.button_back", "back", data),
                 _step(t, "bc.button_next", "next", data)])
    text = t.t("bc.choose_districts" if data.kind == "district" else "bc.choose_groups")
    if data.more:
        text += "\n" + t.t("bc.more_options", count=data.more)
    return Edit(text=text, buttons=rows)


def _role_menu(t: Turn, data: BroadcastDraft) -> Edit:
    rows: Buttons = [[Button(_label(t.svc.tr.role(t.lang, role), count),
                             BroadcastPick(i, data.nonce))]
                     for i, (role, count) in enumerate(data.options)]
    rows.append([_step(t, "bc.button_back", "back", data)])
    return Edit(text=t.t("bc.choose_role"), buttons=rows)


def _office_menu(t: Turn, data: BroadcastDraft) -> Edit:
    everywhere = core.count_recipients(t.session, Audience("role", role=data.role,
                                                           office=_own_office(t)))
    rows: Buttons = [[Button(t.t("bc.button_all_offices", count=everywhere),
                             BroadcastPick(0, data.nonce))]]
    for i, code in enumerate(data.offices, start=1):
        office = t.svc.registry.offices[code]
        n = core.count_recipients(t.session, Audience("role", role=data.role, office=code))
        rows.append([Button(_label(office.name, n), BroadcastPick(i, data.nonce))])
    rows.append([_step(t, "bc.button_back", "back", data)])
    return Edit(text=t.t("bc.choose_office", role=t.svc.tr.role(t.lang, data.role)),
                buttons=rows)


# =============================================================== the admin's dialog


def _nonce() -> str:
    return secrets.token_urlsafe(6)[:8]


def start_broadcast(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Begin an announcement (/siaran)."""
    t.go(State.BC_CONTENT, BroadcastDraft(nonce=_nonce()))
    return say(t.t("bc.ask_content", text=core.MAX_TEXT, caption=core.MAX_CAPTION))


def _content_of(event: MessageEvent) -> tuple[str, File | None]:
    """(text, media) of the admin's message; BadInput for anything else."""
    if isinstance(event, File) and event.kind in MEDIA:
        return event.caption, event
    if isinstance(event, Text) and event.text:
        return event.text, None
    raise BadInput("bc.expect_content", text=core.MAX_TEXT, caption=core.MAX_CAPTION)


def on_message(t: Turn, event: MessageEvent) -> Outcome:
    """The content of the announcement (router: dialog states BC_*)."""
    if not t.is_admin():
        t.end()
        return say(t.t("error.admin_only"))
    if t.state() != State.BC_CONTENT:
        return say(t.t("bc.use_buttons"))
    text, media = _content_of(event)
    row = core.create_draft(t.session, t.svc.clock, t.user_id, text,
                            media_kind=media.kind if media else "",
                            media_ref=media.ref if media else "",
                            media_channel=t.sender.channel,
                            media_blob=media.blob if media else None)
    data = t.data(BroadcastDraft)
    data.bid = row.id
    t.go(State.BC_AUDIENCE, data)
    return Outcome([_audience_menu(t, data)])


def _scoped(t: Turn, audience: Audience) -> Audience | None:
    """An office-limited admin reaches only their own office's people (None: not allowed)."""
    mine = t.admin_offices()
    if set(mine) == set(t.svc.registry.offices):
        return audience
    if audience.office is None and len(mine) == 1:
        return replace(audience, office=mine[0])
    if audience.office not in mine:
        return None
    return audience


def _preview(t: Turn, data: BroadcastDraft, wanted: Audience) -> Outcome:
    """The audience is chosen: the announcement as recipients see it, count, Kirim."""
    audience = _scoped(t, wanted)
    if audience is None:
        return alert(t.t("error.not_allowed"))
    assert data.bid is not None
    count = core.set_audience(t.session, data.bid, audience)
    data.audience = audience.to_json()
    t.go(State.BC_CONFIRM, data)
    described = describe(t.svc, t.lang, audience)
    chosen = Edit(text=t.t("bc.audience_chosen", audience=described))
    back_cancel = [_step(t, "bc.button_back", "back", data),
                   _step(t, "bc.button_cancel", "cancel", data)]
    if count == 0:
        return Outcome([Message(t.t("bc.no_recipients", audience=described), [back_cancel])],
                       edit=chosen)
    row = t.session.get(Broadcast, data.bid)
    assert row is not None
    rows: Buttons = [[_step(t, "bc.button_send", "send", data, count=count)], back_cancel]
    return Outcome([announcement(row),
                    Message(t.t("bc.preview", count=count, audience=described), rows)],
                   edit=chosen)


def _draft_of(t: Turn, nonce: str) -> BroadcastDraft | None:
    """The admin's open /siaran dialog whose buttons these are (None: stale)."""
    if t.state() not in _STATES:
        return None
    data = t.data(BroadcastDraft)
    return data if data.nonce == nonce else None


def on_step(t: Turn, intent: BroadcastStep) -> Outcome:
    """A dialog button: audience kind, next, back, send, cancel."""
    if not t.is_admin():
        return alert(t.t("error.admin_only"))
    data = _draft_of(t, intent.nonce)
    state = t.state()
    if data is None or state is None:
        return alert(t.t("error.stale_button"))
    verb = intent.verb
    if verb == "cancel":
        if data.bid:
            core.cancel(t.session, t.svc.clock, data.bid)
        t.end()
        return Outcome(edit=Edit(text=t.t("bc.cancelled_draft")))
    if state == State.BC_CONTENT:
        return alert(t.t("bc.use_message"))
    if verb == "back":
        t.go(State.BC_AUDIENCE, data)
        return Outcome(edit=_as_edit(_audience_menu(t, data)))
    return _forward(t, state, data, verb)


def _forward(t: Turn, state: State, data: BroadcastDraft, verb: str) -> Outcome:
    """all / dist / grp / role from the audience menu, next from a picker, send."""
    if verb == "all" and state == State.BC_AUDIENCE:
        return _preview(t, data, Audience("members"))
    if verb in ("dist", "grp") and state == State.BC_AUDIENCE:
        kind = "district" if verb == "dist" else "group"
        known = core.audience_values(t.session, kind, _own_office(t))
        if not known:
            return alert(t.t("bc.none_known"))
        data.kind, data.options, data.chosen = kind, known[:MAX_OPTIONS], []
        data.more = max(0, len(known) - MAX_OPTIONS)
        t.go(State.BC_PICK, data)
        return Outcome(edit=_picker(t, data))
    if verb == "role" and state == State.BC_AUDIENCE:
        data.options = core.role_counts(t.session, _own_office(t))
        t.go(State.BC_ROLE, data)
        return Outcome(edit=_role_menu(t, data))
    if verb == "next" and state == State.BC_PICK:
        chosen = sorted(set(data.chosen))
        if not chosen:
            return alert(t.t("bc.pick_one"))
        values = tuple(data.options[i][0] for i in chosen if i < len(data.options))
        return _preview(t, data, Audience(data.kind, values=values))
    if verb == "send" and state == State.BC_CONFIRM and data.bid is not None:
        # Started after this commit, once its progress message exists (LaunchBroadcast).
        t.end()
        return Outcome(effects=[LaunchBroadcast(data.bid, t.lang)])
    return alert(t.t("error.stale_button"))


def on_pick(t: Turn, intent: BroadcastPick) -> Outcome:
    """Toggle a kecamatan / KIM group, or choose a role / an office."""
    if not t.is_admin():
        return alert(t.t("error.admin_only"))
    data = _draft_of(t, intent.nonce)
    state = t.state()
    index = intent.index
    if data is None:
        return alert(t.t("error.stale_button"))
    if state == State.BC_PICK and index < len(data.options):
        data.chosen = sorted(set(data.chosen) ^ {index})
        t.go(State.BC_PICK, data)
        return Outcome(edit=_picker(t, data))
    if state == State.BC_ROLE and index < len(data.options):
        data.role, data.offices = data.options[index][0], t.admin_offices()
        t.go(State.BC_OFFICE, data)
        return Outcome(edit=_office_menu(t, data))
    if state == State.BC_OFFICE and index <= len(data.offices):
        office = None if index == 0 else data.offices[index - 1]
        return _preview(t, data, Audience("role", role=data.role, office=office))
    return alert(t.t("error.stale_button"))


def on_stop(t: Turn, intent: BroadcastStop) -> Outcome:
    """The stop button on the progress message: nothing more goes out."""
    if not t.is_admin():
        return alert(t.t("error.admin_only"))
    row = t.session.get(Broadcast, intent.broadcast_id)
    if row is None or not _may_stop(t, row):
        return alert(t.t("error.not_allowed"))
    if not core.cancel(t.session, t.svc.clock, intent.broadcast_id):
        return alert(t.t("bc.not_running"))
    return Outcome(answer=t.t("bc.stopped"),
                   effects=[BroadcastStopped(intent.broadcast_id, t.lang)])


def _may_stop(t: Turn, row: Broadcast) -> bool:
    """Its author, an admin of every office, or an admin of the office it went to."""
    if row.created_by == t.user_id or _own_office(t) is None:
        return True
    return row.office is not None and row.office in t.admin_offices()


# =============================================================== after the commit


@dataclass(frozen=True)
class Launched:
    """What the admin's channel shows once a broadcast started (or did not)."""

    progress: Message  # the progress message becomes this
    pressed: str | None = None  # the pressed preview message's new text (None: unchanged)
    running: bool = False  # the sender has work: wake it


def launch(svc: Services, effect: LaunchBroadcast, chat_id: str, message_id: int) -> Launched:
    """Start the broadcast with its progress message (already posted), in one transaction,
    so the sender always knows which message to edit."""
    lang = effect.lang
    with svc.db.session() as session:
        row, started = core.start(session, svc.clock, effect.broadcast_id,
                                  progress_chat_id=chat_id, progress_message_id=message_id)
        state = core.progress(session, effect.broadcast_id)
        audience = Audience.from_json(row.audience) if row.audience else None
        total = row.total
    if not started or audience is None:  # pressed twice, or started elsewhere
        return Launched(Message(svc.tr.text(lang, "bc.already_started")))
    described = describe(svc, lang, audience)
    pressed = svc.tr.text(lang, "bc.sending", count=total, audience=described)
    if total == 0:
        return Launched(Message(svc.tr.text(lang, "bc.no_recipients", audience=described)),
                        pressed)
    return Launched(progress_message(svc.tr, lang, state, final=False), pressed, running=True)


def stopped_report(svc: Services, effect: BroadcastStopped) -> tuple[Message, Message]:
    """For a stopped broadcast no run here reports: (final progress, report)."""
    with svc.db.session() as session:
        state = core.progress(session, effect.broadcast_id)
        core.sync_counters(session, state)
    return (progress_message(svc.tr, effect.lang, state, final=True),
            Message(report_text(svc, effect.lang, state)))


# =============================================================== opting out and in


def unsubscribe(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """/berhenti: no more announcements."""
    changed = core.set_subscribed(t.session, t.user, False)
    return say(t.t("sub.stopped" if changed else "sub.already_stopped"))


def subscribe(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """/langganan: announcements again."""
    changed = core.set_subscribed(t.session, t.user, True)
    return say(t.t("sub.started" if changed else "sub.already_started"))
