"""Listings read one page and a count from the database (issue 11): /tugas, /status, /agenda;
/laporan and /ekspor read off the event loop; a report's lateness as the SLA counts it."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot import reports
from bot.clock import ManualClock, to_db
from bot.conversations.officials import TASKS_SHOWN
from bot.models import AgendaCounter, Case, TeamMember, User
from bot.reports import _Lateness
from bot.services import Services
from bot.sla import Sla
from bot.workflow import FileIn
from tests.support.catalog import text
from tests.support.chat import ChatHub, ChatPerson, core_services
from tests.support.factories import LumajangPeople, lumajang_people, make_official

SOP = "lmj-layanan-kim"
ADMIN = "9000"
FILES = [FileIn(kind="document", file_ref="f-1", file_name="berita.pdf", label="Print Out Berita"),
         FileIn(kind="photo", file_ref="f-2", label="Surat Tugas")]


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    with core_services(database_url, clock, KIMBOT_ADMIN_IDS=ADMIN) as services:
        yield services


@pytest.fixture
def people(svc: Services) -> LumajangPeople:
    with svc.db.session() as s:
        return lumajang_people(s)


def submit(svc: Services, member: User, count: int) -> list[int]:
    """`count` requests of the member, a minute apart; their case ids."""
    ids: list[int] = []
    for _ in range(count):
        with svc.db.session() as s:
            case, _ = svc.workflow.submit_request(
                s, member, SOP, subject="Liputan", purpose="Mohon liputan.", files=FILES,
                request_key=f"k-{len(ids)}-{svc.clock.now().isoformat()}")
            assert case.id is not None
            ids.append(case.id)
        svc.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    return ids


def act(svc: Services, case_id: int, user: User, code: str, note: str = "") -> None:
    with svc.db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        svc.workflow.act(s, case_id, user, version=case.version, action_code=code, note=note)


def quiet_hub(svc: Services) -> ChatHub:
    """A hub whose people start with an empty inbox (the notices so far are gone)."""
    hub = ChatHub(svc)
    hub.deliver()
    return hub


def person_of(hub: ChatHub, user: User, name: str) -> ChatPerson:
    return hub.person(name, account_id=user.external_id)


async def test_tasks_show_the_first_ten_and_count_the_rest(svc: Services,
                                                           people: LumajangPeople) -> None:
    ids = submit(svc, people.member, TASKS_SHOWN + 4)
    for case_id in ids[:2]:  # two go on to the Kepala Dinas (step 3)
        act(svc, case_id, people.staf_a, "terima")
        act(svc, case_id, people.staf_a, "agenda")
    hub = quiet_hub(svc)
    staf = person_of(hub, people.staf_b, "Staf B")
    shown = await staf.send("/tugas")
    waiting = TASKS_SHOWN + 2  # the twelve still at step 1
    assert shown[0].text == text("tasks.header", count=waiting)
    cases = shown[1:-1]
    assert len(cases) == TASKS_SHOWN
    assert all(case.labels() for case in cases)  # each with its action buttons
    assert shown[-1].text == text("tasks.more", count=waiting - TASKS_SHOWN)
    with svc.db.session() as s:  # longest waiting first
        agendas = [s.get(Case, i).agenda_number for i in ids[2:2 + TASKS_SHOWN]]  # type: ignore[union-attr]
    assert [next(a for a in agendas if a in c.text) for c in cases] == agendas

    kadis = person_of(hub, people.kadis, "Kadin")
    header, *lines = await kadis.send("/tugas")
    assert header.text == text("tasks.header", count=2)
    assert len(lines) == 2
    kasi = person_of(hub, people.kasi, "Kasi")
    assert [m.text for m in await kasi.send("/tugas")] == [text("tasks.none")]


async def test_a_field_team_step_waits_only_on_the_assigned_team(
        svc: Services, people: LumajangPeople, clock: ManualClock) -> None:
    sop = next(sop for sop in svc.registry.sops.values()
               if any(step.roles == ("tim",) for step in sop.steps))
    step = next(step for step in sop.steps if step.roles == ("tim",))
    with svc.db.session() as s:
        tim_a = make_official(s, "tim", sop.office, name="Tim A")
        tim_b = make_official(s, "tim", sop.office, name="Tim B")
    [lumajang_case] = submit(svc, people.member, 1)
    with svc.db.session() as s:  # a case of that SOP waiting at the team's step
        template = s.get(Case, lumajang_case)
        assert template is not None
        case = Case(**{**template.model_dump(exclude={"id"}), "office": sop.office,
                       "sop_code": sop.code, "step_no": step.number, "request_key": "team"})
        s.add(case)
        s.flush()
        case_id = case.id
    hub = quiet_hub(svc)
    a, b = person_of(hub, tim_a, "Tim A"), person_of(hub, tim_b, "Tim B")
    assert (await b.send("/tugas"))[0].text == text("tasks.header", count=1)  # no team yet
    with svc.db.session() as s:
        assert tim_a.id is not None
        assert case_id is not None
        s.add(TeamMember(case_id=case_id, user_id=tim_a.id, duty_date=clock.now().date(),
                         assigned_by=tim_a.id, created_at=to_db(clock.now())))
    assert (await a.send("/tugas"))[0].text == text("tasks.header", count=1)
    assert [m.text for m in await b.send("/tugas")] == [text("tasks.none")]


async def test_status_counts_every_request_and_shows_the_newest_ten(
        svc: Services, people: LumajangPeople) -> None:
    ids = submit(svc, people.member, 12)
    hub = quiet_hub(svc)
    member = person_of(hub, people.member, "Siti Aminah")
    [shown] = await member.send("/status")
    assert shown.text.startswith(text("status.header", count=12))
    with svc.db.session() as s:
        agendas = [s.get(Case, i).agenda_number for i in ids]  # type: ignore[union-attr]
    assert [a for a in agendas if a in shown.text] == agendas[2:]  # the ten newest


async def test_the_agenda_book_counts_the_whole_year(svc: Services, people: LumajangPeople,
                                                     clock: ManualClock) -> None:
    submit(svc, people.member, 3)
    with svc.db.session() as s:  # 52 more letters of the year, written straight in
        first = s.get(Case, 1)
        assert first is not None
        for seq in range(4, 56):
            s.add(Case(**{**first.model_dump(exclude={"id"}), "agenda_seq": seq,
                          "agenda_number": f"{seq:03d}/TEST/2026",
                          "request_key": f"bulk-{seq}"}))
        counter = s.get(AgendaCounter, ("lumajang", 2026))
        assert counter is not None
        counter.last = 55  # as the agenda book numbers them
        s.add(counter)
    hub = quiet_hub(svc)
    admin = hub.person("Admin", account_id=ADMIN)
    [shown] = await admin.send("/agenda lumajang 2026")
    header = text("agenda.header", office=svc.registry.offices["lumajang"].name, year=2026,
                  count=55)
    assert shown.text.startswith(header)
    assert len(shown.text.removeprefix(header).strip().splitlines()) == 50
    assert "055/TEST/2026" in shown.text
    assert "005/TEST/2026" not in shown.text


async def test_without_a_worker_process_the_report_and_the_export_are_read_in_a_thread(
        svc: Services, people: LumajangPeople, monkeypatch: pytest.MonkeyPatch) -> None:
    # KIMBOT_REPORT_PROCESSES=0 (tests/unit/test_offload.py covers the worker process)
    svc.settings = svc.settings.model_copy(update={"report_processes": 0})
    submit(svc, people.member, 2)
    loop_thread = threading.get_ident()
    seen: list[int] = []
    real_report = reports.period_report

    def watched(*args: object, **kwargs: object) -> reports.PeriodReport:
        seen.append(threading.get_ident())
        return real_report(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("bot.conversations.reports.period_report", watched)
    hub = quiet_hub(svc)
    admin = hub.person("Admin", account_id=ADMIN)
    summary, *charts = await admin.send("/laporan lumajang bulan")
    assert "2" in summary.text
    assert charts
    assert seen
    assert loop_thread not in seen
    [export] = await admin.send("/ekspor agenda csv lumajang 2026")
    assert export.files == 1


@pytest.mark.parametrize("seed", range(3))
def test_a_reports_lateness_is_what_the_sla_says(registry: object, seed: int) -> None:
    from datetime import UTC, datetime

    from bot.sop import SopRegistry

    assert isinstance(registry, SopRegistry)
    rng = random.Random(seed)
    now = datetime(2026, 12, 7, 3, 17, tzinfo=UTC) + timedelta(minutes=rng.randrange(24 * 60))
    sla = Sla(registry, ManualClock(now))
    lateness = _Lateness(sla.calendar("lumajang"), now)
    for _ in range(300):
        due = now - timedelta(minutes=rng.randrange(1, 400 * 24 * 60))
        case = Case(office="lumajang", status="open", due_at=to_db(due), sop_code=SOP,
                    agenda_year=2026, agenda_seq=1, agenda_number="x", started_by_id=1,
                    subject="", purpose="", step_no=1, step_started_at=to_db(due),
                    created_at=to_db(due), request_key="x")
        left = sla.remaining(case)
        assert left is not None
        assert lateness.seconds(due) == int(-left.total_seconds()), due
