"""/laporan and /ekspor in a worker process (bot/offload.py): the admin gets exactly what the
thread path gives, a dead worker is an error for that report only, and a database another
process cannot open keeps the thread."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace
from typing import Any

import pytest
from openpyxl import load_workbook

from bot import offload
from bot.clock import ManualClock
from bot.conversations import reports
from bot.conversations.events import Command
from bot.conversations.output import Outcome
from bot.offload import Pieces
from bot.services import Services
from bot.settings import Settings
from tests.support.catalog import text
from tests.support.chat import ChatHub, ChatPerson, core_services
from tests.support.factories import lumajang_people
from tests.unit.test_listings import ADMIN, submit

REPORT = ("laporan", ("lumajang", "bulan"))
EXPORTS = [("ekspor", ("agenda", "csv", "lumajang", "2026")),
           ("ekspor", ("jejak", "csv", "lumajang", "2026"))]
XLSX = ("ekspor", ("agenda", "xlsx", "lumajang", "2026"))

Seen = list[tuple[str, list[tuple[str, str, str, bytes]]]]


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    with core_services(database_url, clock, KIMBOT_ADMIN_IDS=ADMIN,
                       KIMBOT_REPORT_PROCESSES=1) as services:
        with services.db.session() as s:
            member = lumajang_people(s).member
        submit(services, member, 3)
        yield services


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The jobs that went to a worker process, by name."""
    sent: list[str] = []
    real = offload.run

    async def counted(processes: int, env: offload.Env, job: Any, *args: Any) -> Any:
        sent.append(job.__name__)
        return await real(processes, env, job, *args)

    monkeypatch.setattr(offload, "run", counted)
    return sent


def admin_of(svc: Services) -> tuple[ChatHub, ChatPerson]:
    hub = ChatHub(svc)
    return hub, hub.person("Admin", account_id=ADMIN)


async def ask(hub: ChatHub, admin: ChatPerson, command: tuple[str, tuple[str, ...]]) -> Seen:
    """What the admin gets: texts, and each file's kind, name, caption and bytes."""
    outcome = await hub.turn(admin, Command(*command))
    assert isinstance(outcome, Outcome)
    return [(m.text, [(f.kind, f.name, f.caption, f.make() if f.make else b"")
                      for f in m.files]) for m in outcome.messages]


def thread_path(svc: Services) -> None:
    svc.settings = svc.settings.model_copy(update={"report_processes": 0})


async def test_a_worker_process_sends_what_a_thread_sends(svc: Services,
                                                          workers: list[str]) -> None:
    hub, admin = admin_of(svc)
    in_worker = [await ask(hub, admin, c) for c in (REPORT, *EXPORTS)]
    assert workers == ["read_report", "read_export", "read_export"]
    thread_path(svc)
    in_thread = [await ask(hub, admin, c) for c in (REPORT, *EXPORTS)]
    assert workers == ["read_report", "read_export", "read_export"]  # none more
    assert in_worker == in_thread
    [(summary, []), (_, charts)] = in_worker[0]
    assert summary.startswith(text(
        "report.header", office="Dinas Komunikasi dan Informatika Kabupaten Lumajang",
        period="November 2026", zone="WIB", received=3, finished=0, open=3))
    [(kind, name, _, png)] = charts
    assert (kind, name) == ("photo", "laporan-lmj-layanan-kim.png")
    assert png.startswith(b"\x89PNG")
    [(_, [(_, agenda_name, caption, agenda)])] = in_worker[1]
    assert agenda_name.endswith(".csv")
    assert "3" in caption
    assert agenda.decode("utf-8-sig").count("\n") == 4  # the header and three requests


async def test_a_worker_process_writes_the_same_spreadsheet(svc: Services,
                                                            workers: list[str]) -> None:
    hub, admin = admin_of(svc)
    [(_, [(_, name, caption, in_worker)])] = await ask(hub, admin, XLSX)
    thread_path(svc)
    [(_, [(_, name_t, caption_t, in_thread)])] = await ask(hub, admin, XLSX)
    assert workers == ["read_export"]
    assert (name, caption) == (name_t, caption_t)

    def cells(data: bytes) -> list[tuple[object, ...]]:  # the file's own dates differ
        return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))

    assert cells(in_worker) == cells(in_thread)
    assert len(cells(in_worker)) == 4


def die(_pieces: Pieces, *_args: object) -> object:
    """A worker killed in the middle of a job."""
    os._exit(3)


async def test_a_dead_worker_fails_that_report_only(svc: Services, workers: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    hub, admin = admin_of(svc)
    real = reports.read_report
    monkeypatch.setattr(reports, "read_report", die)
    # Raised out of the core: the channel adapter answers it with error.internal.
    with pytest.raises(BrokenProcessPool):
        await hub.turn(admin, Command(*REPORT))
    monkeypatch.setattr(reports, "read_report", real)
    [(summary, []), (_, charts)] = await ask(hub, admin, REPORT)  # a new worker
    assert len(charts) == 1
    assert summary.startswith(text(
        "report.header", office="Dinas Komunikasi dan Informatika Kabupaten Lumajang",
        period="November 2026", zone="WIB", received=3, finished=0, open=3))
    assert workers == ["die", "read_report"]


@pytest.mark.parametrize(("url", "processes", "worker"), [
    ("sqlite:///kimbot.db", 1, True),
    ("postgresql+psycopg://kimbot@127.0.0.1/kimbot", 2, True),
    ("sqlite:///kimbot.db", 0, False),  # KIMBOT_REPORT_PROCESSES=0
    ("sqlite://", 1, False),  # in memory: another process would see an empty database
    ("sqlite:///:memory:", 1, False),
    ("sqlite:///file:x?mode=memory&cache=shared&uri=true", 1, False),
])
def test_only_a_database_another_process_can_open_goes_to_a_worker(
        url: str, processes: int, worker: bool) -> None:
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        KIMBOT_REPORT_PROCESSES=processes)
    bot = SimpleNamespace(settings=settings, db=SimpleNamespace(url=url))
    env = offload.env_for(bot)  # type: ignore[arg-type]
    assert (env is not None) == worker
    if env is not None:
        assert env.database_url == url
