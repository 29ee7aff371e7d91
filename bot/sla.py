"""Watch each step's time standard: remind, then tell it is overdue, then escalate.

The database is the truth: a case carries its step's due, remind and escalate times and the
stage reached; `sla_next_at` is when the watcher must look at it next. A scheduler only has to
wake at `next_at()` and call `run_due()`; restarting loses and repeats nothing, because a stage
change and its notifications commit together.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_
from sqlmodel import Session, col, select

from bot import metrics
from bot.calendar import WorkCalendar
from bot.clock import Clock, from_db, to_db
from bot.db import after_commit
from bot.models import ActingOfficial, Case, RoleBinding, StepVisit, User
from bot.outbox import notify
from bot.people import user_by_account
from bot.roles import SUPERVISOR
from bot.sop import SopRegistry, Step

REMINDED, OVERDUE, ESCALATED = 1, 2, 3
DEADLINES_CHANGED = "kimbot.deadlines_changed"  # session.info: the earliest new deadline
# `status || ''` selects exactly the rows `status == 'open'` does (status is NOT NULL), but no
# index can serve it: SQLite's planner (no statistics) would otherwise read every open case
# through ix_case_status and sort them, instead of walking ix_case_sla_next_at in order and
# stopping early (~50 ms against ~0.01 ms per call with 100k open cases; next_at() runs after
# every handled update).
_IS_OPEN = (col(Case.status) + "") == "open"


@dataclass(frozen=True)
class SlaPolicy:
    remind_share: float = 0.75  # remind when this share of the standard is used
    escalate_share: float = 0.5  # escalate this share of the standard after the due time
    digest_over: int = 3  # more SLA messages than this for one person in one run: one digest


@dataclass
class SlaRun:
    """What one `run_due` did, for logs and benchmarks."""

    cases: int = 0
    reminders: int = 0
    overdue: int = 0
    escalations: int = 0
    messages: int = 0
    by_recipient: dict[int, int] = field(default_factory=dict)


# Built once (it runs for every task announced and every /status line).
_ACTING = (select(ActingOfficial.role, ActingOfficial.user_id)
           .where(ActingOfficial.office == bindparam("office"))
           .where(ActingOfficial.starts_at <= bindparam("at"))
           .where(ActingOfficial.ends_at > bindparam("at"))
           .where(col(ActingOfficial.revoked_at).is_(None))
           .order_by(col(ActingOfficial.id)))


def _note_deadline(session: Session, case: Case) -> None:
    """Remember the earliest deadline this transaction set, for the watcher's re-arm."""
    if case.sla_next_at is None:
        return
    when = from_db(case.sla_next_at)
    known = session.info.get(DEADLINES_CHANGED)
    if known is None or when < known:
        session.info[DEADLINES_CHANGED] = when


class Sla:
    def __init__(self, registry: SopRegistry, clock: Clock, policy: SlaPolicy | None = None,
                 admins: Mapping[str, Sequence[str]] | None = None):
        self.registry = registry
        self.clock = clock
        self.policy = policy or SlaPolicy()
        # office → its admins' account keys ("telegram:123"): told when nobody is above
        self.admins: Mapping[str, Sequence[str]] = admins or {}

    def calendar(self, office: str) -> WorkCalendar:
        return WorkCalendar.for_office(self.registry.office(office))

    # -- the case's clock ----------------------------------------------------------------

    def enter(self, session: Session, case: Case, step: Step) -> None:
        """Start the step's clock (a fresh standard) and open its visit record."""
        now = self.clock.now()
        cal = self.calendar(case.office)
        due = cal.add(now, step.waktu)
        standard = cal.elapsed(now, due)
        self._arm(case, cal, now, due, standard, consumed=timedelta(0), stage=0)
        _note_deadline(session, case)
        self._open_visit(session, case, step, now, due, standard)

    def resume(self, session: Session, case: Case, step: Step) -> None:
        """The member answered: the step's clock goes on with the office time it had left."""
        now = self.clock.now()
        cal = self.calendar(case.office)
        visit = self._last_visit(session, case)
        standard = timedelta(seconds=visit.standard_s) if visit else cal.office_span(
            now, step.waktu)
        remaining = timedelta(seconds=case.paused_remaining_s or 0)
        due = cal.add_office_time(now, remaining) if remaining > timedelta(0) else now
        consumed = standard - remaining
        case.paused_remaining_s = None
        self._arm(case, cal, now, due, standard, consumed=consumed, stage=case.sla_stage)
        _note_deadline(session, case)
        self._open_visit(session, case, step, now, due, standard)

    def leave(self, session: Session, case: Case, outcome: str) -> None:
        """Stop the clock: close the visit with the office time it really took."""
        # (A deadline that goes needs no earlier wake-up: a run that finds nothing re-arms.)
        now = self.clock.now()
        visit = self._open_visit_of(session, case)
        if visit is not None:
            cal = self.calendar(case.office)
            visit.left_at = to_db(now)
            visit.actual_s = int(cal.elapsed(from_db(visit.entered_at), now).total_seconds())
            visit.on_time = now <= from_db(visit.due_at)
            visit.outcome = outcome
            session.add(visit)
        case.due_at = case.remind_at = case.escalate_at = case.sla_next_at = None
        session.add(case)

    def pause(self, session: Session, case: Case) -> None:
        """The case waits on the member; that time does not count against the officials."""
        now = self.clock.now()
        if case.due_at is not None:
            left = self.calendar(case.office).elapsed(now, from_db(case.due_at))
            case.paused_remaining_s = int(left.total_seconds())
        self.leave(session, case, "member")

    def remaining(self, case: Case) -> timedelta | None:
        """Office time left on the current step (negative: how late).

        Past the due time it is never zero: a deadline passed at Friday's closing is late
        on Saturday too, even though no office time has gone by since.
        """
        if case.due_at is None or case.status != "open":
            return None
        now, due = self.clock.now(), from_db(case.due_at)
        left = self.calendar(case.office).elapsed(now, due)
        if now > due and left == timedelta(0):
            return -max(now - due, timedelta(minutes=1))
        return left

    def _arm(self, case: Case, cal: WorkCalendar, now: datetime, due: datetime,
             standard: timedelta, *, consumed: timedelta, stage: int) -> None:
        policy = self.policy
        remind_in = max(timedelta(0), standard * policy.remind_share - consumed)
        case.due_at = to_db(due)
        case.remind_at = to_db(cal.add_office_time(now, remind_in))
        case.escalate_at = to_db(cal.add_office_time(due, standard * policy.escalate_share))
        case.sla_stage = stage
        case.sla_next_at = self._next_for(case)

    @staticmethod
    def _next_for(case: Case) -> datetime | None:
        return {0: case.remind_at, REMINDED: case.due_at, OVERDUE: case.escalate_at}.get(
            case.sla_stage)

    def _open_visit(self, session: Session, case: Case, step: Step, now: datetime,
                    due: datetime, standard: timedelta) -> None:
        assert case.id is not None
        session.add(StepVisit(
            case_id=case.id, office=case.office, sop_code=case.sop_code, step_no=step.number,
            entered_at=to_db(now), due_at=to_db(due), standard_text=step.waktu.text,
            standard_s=int(standard.total_seconds()),
        ))

    @staticmethod
    def _open_visit_of(session: Session, case: Case) -> StepVisit | None:
        return session.exec(
            select(StepVisit).where(StepVisit.case_id == case.id)
            .where(col(StepVisit.left_at).is_(None)).order_by(col(StepVisit.id).desc())
        ).first()

    @staticmethod
    def _last_visit(session: Session, case: Case) -> StepVisit | None:
        return session.exec(
            select(StepVisit).where(StepVisit.case_id == case.id)
            .order_by(col(StepVisit.id).desc())
        ).first()

    # -- who holds a role now (Plt included) ------------------------------------------

    def holders(self, session: Session, office: str, roles: tuple[str, ...] | list[str],
                at: datetime | None = None) -> list[User]:
        """People who should act for these roles now: the Plt where one is named."""
        at = at or self.clock.now()
        acting = self.acting(session, office, at)
        ids = {i for role in roles for i in acting.get(role, ())}
        bound = [role for role in roles if role not in acting]
        # One statement for the people, whether named as Plt or bound to a role.
        who: ColumnElement[bool] | None = col(User.id).in_(ids) if ids else None
        if bound:
            by_role = col(User.id).in_(
                select(RoleBinding.user_id).where(RoleBinding.office == office)
                .where(col(RoleBinding.role).in_(bound))
                .where(RoleBinding.active == True))  # noqa: E712
            who = by_role if who is None else or_(who, by_role)
        if who is None:
            return []
        users = session.exec(select(User).where(who).where(User.active == True)  # noqa: E712
                             .order_by(col(User.id)))
        return [u for u in users if u.id is not None]

    @staticmethod
    def acting(session: Session, office: str, at: datetime) -> dict[str, list[int]]:
        """Role → Plt user ids active at `at` in the office."""
        rows = session.connection().execute(_ACTING, {"office": office, "at": to_db(at)})
        out: dict[str, list[int]] = defaultdict(list)
        for role, user_id in rows:
            out[role].append(user_id)
        return dict(out)

    # -- the watcher ---------------------------------------------------------------------

    @staticmethod
    def next_at(session: Session) -> datetime | None:
        """The earliest moment any open case needs looking at."""
        value = session.exec(select(func.min(Case.sla_next_at)).where(_IS_OPEN)).first()
        return from_db(value) if value is not None else None

    def run_due(self, session: Session, limit: int = 20_000) -> SlaRun:
        """Send what is due now (never early), at most once per stage, as one transaction."""
        now = self.clock.now()
        statement = (
            select(Case).where(_IS_OPEN)
            .where(col(Case.sla_next_at).is_not(None))
            .where(col(Case.sla_next_at) <= to_db(now))
            .order_by(col(Case.sla_next_at)).limit(limit)
            .with_for_update(skip_locked=True)
        )
        run = SlaRun()
        outgoing: dict[int, list[tuple[str, Case, Step, dict[str, Any]]]] = defaultdict(list)
        people = _People(self, session, now)  # one lookup per office and roles, not per case
        for case in session.exec(statement):
            run.cases += 1
            self._advance(session, case, now, run, outgoing, people)
        self._emit(session, outgoing, run)
        return run

    def _advance(self, session: Session, case: Case, now: datetime, run: SlaRun,
                 outgoing: dict[int, list[tuple[str, Case, Step, dict[str, Any]]]],
                 people: _People | None = None) -> None:
        people = people or _People(self, session, now)
        sop = self.registry.get(case.sop_code)
        if sop is None or case.due_at is None:
            case.sla_next_at = None
            session.add(case)
            return
        try:
            step = sop.step(case.step_no)
        except KeyError:  # the SOP file lost this step; do not stop watching the others
            case.sla_next_at = None
            session.add(case)
            return
        reached = case.sla_stage
        for stage, moment in ((REMINDED, case.remind_at), (OVERDUE, case.due_at),
                              (ESCALATED, case.escalate_at)):
            if moment is not None and from_db(moment) <= now:
                reached = max(reached, stage)
        holders = people.holders(case.office, step.roles)
        names = ", ".join(u.full_name or u.display_name for u in holders) or "-"
        # Missed while down: only the furthest stage is worth telling (a reminder that time is
        # running out is wrong once it has run out).
        if reached >= OVERDUE > case.sla_stage:
            for user in holders:
                assert user.id is not None
                outgoing[user.id].append(("notify.sla_overdue", case, step, {}))
            run.overdue += 1
        elif reached == REMINDED > case.sla_stage:
            for user in holders:
                assert user.id is not None
                outgoing[user.id].append(("notify.sla_reminder", case, step, {}))
            run.reminders += 1
        if reached == ESCALATED > case.sla_stage:
            for boss in people.supervisors(case.office, step.roles):
                assert boss.id is not None
                outgoing[boss.id].append(("notify.sla_escalated", case, step,
                                          {"late_names": names}))
            run.escalations += 1
        case.sla_stage = reached
        case.sla_next_at = self._next_for(case)
        session.add(case)

    def _supervisors(self, session: Session, office: str, roles: tuple[str, ...],
                     at: datetime) -> list[User]:
        """The next role up the hierarchy that has someone in it; above the top, the admins."""
        for role in roles:
            boss = SUPERVISOR.get(role)
            while boss is not None:
                found = self.holders(session, office, [boss], at)
                if found:
                    return found
                boss = SUPERVISOR.get(boss)
        late = {user.id for user in self.holders(session, office, roles, at)}
        return [user for user in self.office_admins(session, office) if user.id not in late]

    def office_admins(self, session: Session, office: str) -> list[User]:
        """The office's admins the bot can reach: those who have written to it."""
        users: dict[int, User] = {}
        for key in self.admins.get(office, ()):
            channel, _, account = key.partition(":")
            user = user_by_account(session, channel, account)
            if user is not None and user.id is not None and user.erased_at is None:
                users.setdefault(user.id, user)
        return list(users.values())

    def _emit(self, session: Session,
              outgoing: dict[int, list[tuple[str, Case, Step, dict[str, Any]]]],
              run: SlaRun) -> None:
        stages: Counter[str] = Counter()
        for recipient, items in outgoing.items():
            run.by_recipient[recipient] = len(items)
            if len(items) > self.policy.digest_over:
                lines = [f"{c.agenda_number} ({s.number})" for _, c, s, _ in items[:30]]
                notify(session, self.clock, recipient, "notify.sla_digest",
                       count=len(items), items=lines, more=max(0, len(items) - 30))
                run.messages += 1
                stages["digest"] += 1
                continue
            for key, case, step, extra in items:
                stages[key.removeprefix("notify.sla_")] += 1
                actions = [] if key == "notify.sla_escalated" else [a.code for a in step.actions]
                notify(session, self.clock, recipient, key, case_id=case.id,
                       case_version=case.version, actions=actions, agenda=case.agenda_number,
                       subject=case.subject, step_no=step.number, activity=step.activity,
                       roles=list(step.roles), waktu=step.waktu.text,
                       due_at=from_db(case.due_at).isoformat() if case.due_at else "",
                       office=case.office, **extra)
                run.messages += 1
        if stages:  # counted for /metrics once the transaction holds
            after_commit(session, partial(metrics.sla_notices, stages))


class _People:
    """Who holds a role, and who supervises it, as of one watcher run.

    A run reads them for every case it moves, but the answer depends only on the office and
    the roles (the run has one `now` and changes no binding, Plt or user): look each up once.
    """

    def __init__(self, sla: Sla, session: Session, at: datetime) -> None:
        self._sla, self._session, self._at = sla, session, at
        self._holders: dict[tuple[str, tuple[str, ...]], list[User]] = {}
        self._supervisors: dict[tuple[str, tuple[str, ...]], list[User]] = {}

    def holders(self, office: str, roles: tuple[str, ...]) -> list[User]:
        key = (office, tuple(roles))
        found = self._holders.get(key)
        if found is None:
            found = self._holders[key] = self._sla.holders(self._session, office, roles, self._at)
        return found

    def supervisors(self, office: str, roles: tuple[str, ...]) -> list[User]:
        key = (office, tuple(roles))
        found = self._supervisors.get(key)
        if found is None:
            found = self._supervisors[key] = self._sla._supervisors(
                self._session, office, roles, self._at)
        return found
