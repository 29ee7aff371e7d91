"""Announcements (siaran) to an audience, delivered once per recipient and resumable.

A broadcast is a `Broadcast` row (draft → running → finished | cancelled) and, once
started, one `BroadcastDelivery` row per recipient, all written in the transaction that
starts it. Senders take deliveries with `claim_batch` and move each one along:

    pending ──claim_batch──▶ claimed ──mark_sending──▶ sending ──▶ sent
       ▲                        │                         ├──▶ failed / unreachable
       └──── release ───────────┘          back_to_claimed┘ (429, transient error)
    pending / claimed ──cancel──▶ cancelled;   claimed ──(opted out meanwhile)──▶ skipped

Every step is a conditional UPDATE on the current status, so two workers (or a worker
and a restarted process) never take the same row, and a row cancelled or released
elsewhere is not sent by a worker that still holds it in memory.

**Crash policy: at most once.** `mark_sending` is committed right before the request to
Telegram and `mark_sent` once it answered. A row found `sending` at start-up was in flight
when the process died: Telegram may or may not have delivered it, and it offers no way to
ask. `resume_running` marks such rows `unconfirmed` and never sends them again: no
recipient gets an announcement twice. They are counted with the sent ones (and shown
apart in the report). The price would be a recipient skipped when the process dies
between that commit and the request leaving; the edge closes that gap by handing the
whole request to the socket in the same event-loop step as the commit
(`handlers/telegram/rawapi.py`), so it is microseconds wide. `claimed` rows were never offered to
Telegram: they go back to `pending` and are sent after the restart. A request that left
but got no answer (timeout, connection cut) is treated as the crash is: `unconfirmed`.
Confirmed sends may be written a moment later in batches (a crash then leaves them
`sending`, which is right: they were delivered).

Who receives: people who are active, subscribed (`/berhenti` opts out) and not erased.
Members are registered people; officials are holders of an active role binding. The
check is made when the broadcast starts and again when a delivery is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, literal, select, update
from sqlalchemy.sql import Select
from sqlmodel import Session, col

from bot.clock import Clock, from_db, to_db
from bot.errors import BadInput, NotFound
from bot.models import DEFAULT_CHANNEL, Broadcast, BroadcastDelivery, RoleBinding, User
from bot.people import chats_on
from bot.roles import ROLES

MAX_TEXT = 4096
MAX_CAPTION = 1024
MEDIA_KINDS = ("", "photo", "document")
KINDS = ("members", "district", "group", "role")
MAX_VALUES = 100

# Delivery statuses.
PENDING, CLAIMED, SENDING, SENT = "pending", "claimed", "sending", "sent"
UNCONFIRMED, FAILED, UNREACHABLE = "unconfirmed", "failed", "unreachable"
CANCELLED, SKIPPED = "cancelled", "skipped"
OPEN = (PENDING, CLAIMED, SENDING)  # not yet decided
# Broadcast statuses.
DRAFT, RUNNING, FINISHED = "draft", "running", "finished"


@dataclass(frozen=True)
class Audience:
    """Who gets a broadcast.

    - `members`: every registered member (of `office`, when given);
    - `district` / `group`: members whose kecamatan / KIM group is one of `values`;
    - `role`: holders of an active binding to `role` (in `office`, when given).
    """

    kind: str
    values: tuple[str, ...] = ()
    role: str | None = None
    office: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadInput("error.bad_choice")
        if self.kind in ("district", "group") and not self.values:
            raise BadInput("bc.pick_one")
        if len(self.values) > MAX_VALUES:
            raise BadInput("error.bad_choice")
        if self.kind == "role" and self.role not in ROLES:
            raise BadInput("error.bad_choice")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "values": list(self.values), "role": self.role,
                "office": self.office}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(kind=str(data.get("kind", "")),
                   values=tuple(str(v) for v in data.get("values") or ()),
                   role=data.get("role"), office=data.get("office"))


def _reachable(statement: Select[Any]) -> Select[Any]:
    """Only people who may get announcements: active, subscribed, not erased."""
    return (statement.where(col(User.active).is_(True))
            .where(col(User.subscribed).is_(True))
            .where(col(User.erased_at).is_(None)))


def _members(office: str | None = None) -> Select[Any]:
    statement = _reachable(select(col(User.id)).where(col(User.registered_at).is_not(None)))
    if office:
        statement = statement.where(col(User.office) == office)
    return statement


def _officials(role: str | None, office: str | None) -> Select[Any]:
    bindings = select(col(RoleBinding.user_id)).where(col(RoleBinding.active).is_(True))
    if role:
        bindings = bindings.where(col(RoleBinding.role) == role)
    if office:
        bindings = bindings.where(col(RoleBinding.office) == office)
    return _reachable(select(col(User.id)).where(col(User.id).in_(bindings)))


def recipients(audience: Audience) -> Select[Any]:
    """SELECT of the user ids the audience covers, each once."""
    if audience.kind == "role":
        return _officials(audience.role, audience.office)
    statement = _members(audience.office)
    if audience.kind == "district":
        statement = statement.where(col(User.district).in_(audience.values))
    elif audience.kind == "group":
        statement = statement.where(col(User.kim_group).in_(audience.values))
    return statement


def count_recipients(session: Session, audience: Audience) -> int:
    subquery = recipients(audience).subquery()
    return int(session.execute(select(func.count()).select_from(subquery)).scalar_one())


def audience_values(
    session: Session, kind: str, office: str | None = None,
) -> list[tuple[str, int]]:
    """Known kecamatan (`district`) or KIM groups (`group`) with their reachable members."""
    column = {"district": User.district, "group": User.kim_group}[kind]
    members = _members(office).subquery()
    rows = session.execute(
        select(col(column), func.count()).where(col(User.id).in_(select(members.c.id)))
        .where(col(column).is_not(None)).where(col(column) != "")
        .group_by(col(column)).order_by(func.count().desc(), col(column))
    ).all()
    return [(str(value), int(n)) for value, n in rows]


def role_counts(session: Session, office: str | None = None) -> list[tuple[str, int]]:
    """Each role with the number of reachable people holding it (roles in ROLES order)."""
    counts = {role: count_recipients(session, Audience("role", role=role, office=office))
              for role in ROLES}
    return list(counts.items())


# -- drafts -------------------------------------------------------------------------------


def create_draft(
    session: Session, clock: Clock, created_by: int, text: str, *,
    media_kind: str = "", media_ref: str = "", office: str | None = None,
    media_channel: str = DEFAULT_CHANNEL, media_blob: str | None = None,
) -> Broadcast:
    """A broadcast not sent yet: text (≤ 4096) or a photo/document with a caption (≤ 1024)."""
    text = (text or "").strip()
    if media_kind not in MEDIA_KINDS or bool(media_kind) != bool(media_ref):
        raise BadInput("error.bad_input")
    limit = MAX_CAPTION if media_kind else MAX_TEXT
    if len(text) > limit:
        raise BadInput("bc.too_long", length=len(text), limit=limit)
    if not media_kind and not text:
        raise BadInput("bc.expect_content")
    row = Broadcast(office=office, created_by=created_by, text=text, media_kind=media_kind,
                    media_ref=media_ref, media_channel=media_channel,
                    media_blob=media_blob or None, created_at=to_db(clock.now()))
    session.add(row)
    session.flush()
    return row


def _get(session: Session, broadcast_id: int) -> Broadcast:
    row = session.get(Broadcast, broadcast_id)
    if row is None:
        raise NotFound("bc.unknown")
    return row


def set_audience(session: Session, broadcast_id: int, audience: Audience) -> int:
    """Choose who gets a draft; returns how many people that is now."""
    row = _get(session, broadcast_id)
    if row.status != DRAFT:
        raise BadInput("bc.not_draft")
    row.audience = audience.to_json()
    if audience.office:
        row.office = audience.office
    session.add(row)
    return count_recipients(session, audience)


# -- running ------------------------------------------------------------------------------


def start(
    session: Session, clock: Clock, broadcast_id: int, *, progress_chat_id: str = "",
    progress_message_id: int | None = None,
) -> tuple[Broadcast, bool]:
    """Draft → running, with one pending delivery per recipient, in this transaction.

    Idempotent: a broadcast already started (by this call before, or by another worker at
    the same moment) is returned unchanged with `False`.
    """
    now = to_db(clock.now())
    row = _get(session, broadcast_id)
    audience = Audience.from_json(row.audience) if row.audience else None
    if audience is None and row.status == DRAFT:
        raise BadInput("bc.no_audience")
    result = session.execute(
        update(Broadcast).where(col(Broadcast.id) == broadcast_id)
        .where(col(Broadcast.status) == DRAFT)
        .values(status=RUNNING, started_at=now, progress_chat_id=progress_chat_id,
                progress_message_id=progress_message_id)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.refresh(row)
        return row, False
    assert audience is not None
    ids = recipients(audience).subquery()
    # Each delivery goes out on the recipient's preferred channel as it is now.
    session.execute(
        insert(BroadcastDelivery).from_select(
            ["broadcast_id", "user_id", "channel", "status", "attempts", "error"],
            select(literal(broadcast_id), col(User.id), col(User.channel), literal(PENDING),
                   literal(0), literal(""))
            .where(col(User.id).in_(select(ids.c.id))).order_by(col(User.id)),
        )
    )
    total = int(session.execute(
        select(func.count()).select_from(BroadcastDelivery)
        .where(col(BroadcastDelivery.broadcast_id) == broadcast_id)).scalar_one())
    values: dict[str, Any] = {"total": total}
    if total == 0:
        values.update(status=FINISHED, finished_at=now)
    session.execute(update(Broadcast).where(col(Broadcast.id) == broadcast_id).values(**values))
    session.refresh(row)
    return row, True


@dataclass(frozen=True)
class Claim:
    """A delivery taken by this worker: send `broadcast_id`'s content to `chat_id` on
    `channel`."""

    delivery_id: int
    broadcast_id: int
    user_id: int
    chat_id: str
    channel: str = DEFAULT_CHANNEL


def claim_batch(
    session: Session, broadcast_id: int, limit: int = 50, channel: str = DEFAULT_CHANNEL,
) -> list[Claim]:
    """Take up to `limit` pending deliveries of `channel` (pending → claimed); nobody else
    gets them.

    Recipients who opted out, were erased or deactivated since the start, or have no
    account on `channel` any more, are not sent: their rows become `skipped`.
    """
    delivery = BroadcastDelivery
    wanted = (select(col(delivery.id)).where(col(delivery.broadcast_id) == broadcast_id)
              .where(col(delivery.channel) == channel)
              .where(col(delivery.status) == PENDING).order_by(col(delivery.id)).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        # Rows another worker is claiming right now are passed over, not waited for.
        wanted = wanted.with_for_update(skip_locked=True)
    ids = [int(i) for i in session.execute(wanted).scalars()]
    if not ids:
        return []
    # The claim itself: only rows still pending change, whatever another worker did.
    taken = session.execute(
        update(delivery).where(col(delivery.id).in_(ids))
        .where(col(delivery.status) == PENDING)
        .values(status=CLAIMED).returning(col(delivery.id))
    ).scalars().all()
    if not taken:
        return []
    rows = session.execute(
        select(col(delivery.id), col(delivery.user_id), col(User.active),
               col(User.subscribed), col(User.erased_at))
        .join(User, col(User.id) == delivery.user_id)
        .where(col(delivery.id).in_(list(taken))).order_by(col(delivery.id))
    ).all()
    chats = chats_on(session, [int(row[1]) for row in rows], channel)
    claims: list[Claim] = []
    gone: list[int] = []
    for delivery_id, user_id, active, subscribed, erased_at in rows:
        chat_id = chats.get(int(user_id))
        if active and subscribed and erased_at is None and chat_id:
            claims.append(Claim(int(delivery_id), broadcast_id, int(user_id), chat_id, channel))
        else:
            gone.append(int(delivery_id))
    if gone:
        session.execute(update(delivery).where(col(delivery.id).in_(gone))
                        .where(col(delivery.status) == CLAIMED)
                        .values(status=SKIPPED, error="not subscribed any more"))
    return claims


# The per-delivery statements run a few hundred times a second: plain Core on the table,
# built once (no ORM bookkeeping, no statement construction per call).
_DELIVERY: Table = BroadcastDelivery.__table__  # type: ignore[attr-defined]
_BEGIN = (update(_DELIVERY).where(_DELIVERY.c.id.in_(bindparam("ids", expanding=True)))
          .where(_DELIVERY.c.status == CLAIMED)
          .values(status=SENDING, attempts=_DELIVERY.c.attempts + 1)
          .returning(_DELIVERY.c.id))
_SENT = (update(_DELIVERY).where(_DELIVERY.c.id.in_(bindparam("ids", expanding=True)))
         .where(_DELIVERY.c.status.in_((SENDING, UNCONFIRMED)))
         .values(status=SENT, sent_at=bindparam("at"), error=""))


def _move(session: Session, ids: list[int], before: tuple[str, ...], **values: Any) -> int:
    if not ids:
        return 0
    result = session.connection().execute(
        update(_DELIVERY).where(_DELIVERY.c.id.in_(ids))
        .where(_DELIVERY.c.status.in_(before)).values(**values))
    return int(result.rowcount or 0)


def mark_sending(session: Session, delivery_id: int) -> bool:
    """Claimed → sending, committed right before the request. False: not ours any more."""
    return delivery_id in begin_sending(session, [delivery_id])


def begin_sending(session: Session, delivery_ids: list[int]) -> set[int]:
    """`mark_sending` for several rows in one statement; returns those now ours to send."""
    if not delivery_ids:
        return set()
    rows = session.connection().execute(_BEGIN, {"ids": delivery_ids}).scalars().all()
    return {int(i) for i in rows}


def mark_sent(session: Session, clock: Clock, delivery_ids: list[int]) -> int:
    if not delivery_ids:
        return 0
    result = session.connection().execute(
        _SENT, {"ids": delivery_ids, "at": to_db(clock.now())})
    return int(result.rowcount or 0)


def mark_unconfirmed(session: Session, delivery_id: int, error: str) -> bool:
    """Telegram may have delivered it (no answer): counted as sent, never repeated."""
    return _move(session, [delivery_id], (SENDING,), status=UNCONFIRMED,
                 error=error[:256]) == 1


def mark_failed(session: Session, delivery_id: int, error: str) -> bool:
    return _move(session, [delivery_id], (SENDING, CLAIMED, UNCONFIRMED), status=FAILED,
                 error=error[:256]) == 1


def mark_unreachable(session: Session, delivery_id: int, error: str) -> bool:
    """The person blocked the bot (403) or the chat is gone: not retried."""
    return _move(session, [delivery_id], (SENDING, UNCONFIRMED), status=UNREACHABLE,
                 error=error[:256]) == 1


def back_to_claimed(session: Session, delivery_id: int, error: str) -> bool:
    """Telegram refused without delivering (429): the same worker tries again."""
    return _move(session, [delivery_id], (SENDING,), status=CLAIMED, error=error[:256]) == 1


def release(session: Session, delivery_ids: list[int]) -> int:
    """Claimed rows this worker will not send (it stops): back to pending for anyone."""
    return _move(session, delivery_ids, (CLAIMED,), status=PENDING)


def cancel(session: Session, clock: Clock, broadcast_id: int) -> bool:
    """Stop a draft or running broadcast: nothing not yet being sent will be sent."""
    result = session.execute(
        update(Broadcast).where(col(Broadcast.id) == broadcast_id)
        .where(col(Broadcast.status).in_((DRAFT, RUNNING)))
        .values(status=CANCELLED, finished_at=to_db(clock.now())))
    if getattr(result, "rowcount", 0) != 1:
        return False
    session.execute(
        update(BroadcastDelivery).where(col(BroadcastDelivery.broadcast_id) == broadcast_id)
        .where(col(BroadcastDelivery.status).in_((PENDING, CLAIMED)))
        .values(status=CANCELLED))
    return True


@dataclass(frozen=True)
class Progress:
    broadcast_id: int
    status: str
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def _n(self, *statuses: str) -> int:
        return sum(self.counts.get(s, 0) for s in statuses)

    @property
    def sent(self) -> int:
        """Delivered, including those in flight at a crash (`unconfirmed`)."""
        return self._n(SENT, UNCONFIRMED)

    @property
    def unconfirmed(self) -> int:
        return self._n(UNCONFIRMED)

    @property
    def failed(self) -> int:
        return self._n(FAILED)

    @property
    def unreachable(self) -> int:
        return self._n(UNREACHABLE)

    @property
    def skipped(self) -> int:
        """Opted out (or erased) after the start."""
        return self._n(SKIPPED)

    @property
    def cancelled(self) -> int:
        return self._n(CANCELLED)

    @property
    def left(self) -> int:
        return self._n(*OPEN)

    @property
    def done(self) -> int:
        return self.total - self.left

    def elapsed_s(self, now: datetime) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at or now
        return max(0.0, (from_db(end) - from_db(self.started_at)).total_seconds())


def progress(session: Session, broadcast_id: int) -> Progress:
    row = _get(session, broadcast_id)
    session.refresh(row)
    rows = session.execute(
        select(col(BroadcastDelivery.status), func.count())
        .where(col(BroadcastDelivery.broadcast_id) == broadcast_id)
        .group_by(col(BroadcastDelivery.status))).all()
    counts = {str(status): int(n) for status, n in rows}
    return Progress(broadcast_id, row.status, row.total, counts, row.started_at,
                    row.finished_at)


def sync_counters(session: Session, state: Progress) -> None:
    """Copy the delivery counts onto the broadcast row (for listings and exports)."""
    session.execute(update(Broadcast).where(col(Broadcast.id) == state.broadcast_id)
                    .values(sent=state.sent, failed=state.failed,
                            unreachable=state.unreachable))


def finish_if_done(session: Session, clock: Clock, broadcast_id: int) -> Progress | None:
    """Running with nothing left → finished. Returns the final progress to the one caller
    that made the change (so the report is sent once), else None."""
    state = progress(session, broadcast_id)
    if state.status != RUNNING or state.left:
        return None
    result = session.execute(
        update(Broadcast).where(col(Broadcast.id) == broadcast_id)
        .where(col(Broadcast.status) == RUNNING)
        .values(status=FINISHED, finished_at=to_db(clock.now())))
    if getattr(result, "rowcount", 0) != 1:
        return None
    state = progress(session, broadcast_id)
    sync_counters(session, state)
    return state


def running_ids(session: Session) -> list[int]:
    return [int(i) for i in session.execute(
        select(col(Broadcast.id)).where(col(Broadcast.status) == RUNNING)
        .order_by(col(Broadcast.id))).scalars()]


def resume_running(session: Session) -> list[int]:
    """At start-up: settle what a stopped or crashed process left, return what still runs.

    `claimed` → `pending` (never offered to Telegram: sent after all);
    `sending` → `unconfirmed` (maybe delivered: never repeated). See the module docstring.
    """
    ids = running_ids(session)
    if ids:
        session.execute(
            update(BroadcastDelivery).where(col(BroadcastDelivery.broadcast_id).in_(ids))
            .where(col(BroadcastDelivery.status) == SENDING)
            .values(status=UNCONFIRMED, error="in flight when the bot stopped"))
        session.execute(
            update(BroadcastDelivery).where(col(BroadcastDelivery.broadcast_id).in_(ids))
            .where(col(BroadcastDelivery.status) == CLAIMED).values(status=PENDING))
    return ids


# -- subscription -------------------------------------------------------------------------


def set_subscribed(session: Session, user: User, subscribed: bool) -> bool:
    """/berhenti and /langganan; returns whether anything changed."""
    if user.subscribed == subscribed:
        return False
    user.subscribed = subscribed
    session.add(user)
    return True
