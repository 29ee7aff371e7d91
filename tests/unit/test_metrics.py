"""/metrics and /readyz as an operator reads them (handlers/metrics.py, bot/metrics.py).

Counters are per process and only grow, so each test reads them before and after.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import outbox
from bot.clock import ManualClock, to_db
from bot.conversations.events import Inbound, Sender, Text
from bot.db import Database
from bot.delivery import DeliveryLoop, RateLimited, Unreachable
from bot.metrics import REGISTRY
from bot.ratelimit import RateLimiter
from bot.services import Services
from bot.workflow import Workflow
from handlers.metrics import Lifecycle, metrics_response, readiness
from tests.support.chat import ChatHub, core_services
from tests.support.factories import lumajang_people, make_user
from tests.unit.test_delivery_loop import FakeChannel
from tests.unit.test_sla import run, submit, wib

TOKEN = "123456789:" + "A" * 35


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    with core_services(database_url, clock, TELEGRAM_BOT_TOKEN=TOKEN) as services:
        yield services


def scrape(svc: Services) -> dict[str, float]:
    """Every sample of /metrics as 'name{label="value",…}' → value."""
    body, content_type = metrics_response(svc)
    assert content_type.startswith("text/plain; version=")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_outbox_depth_and_the_age_of_its_oldest_row(svc: Services, clock: ManualClock) -> None:
    empty = scrape(svc)
    assert (empty["kimbot_outbox_depth"], empty["kimbot_outbox_oldest_age_seconds"]) == (0, 0)
    assert empty["kimbot_broadcasts_running"] == 0
    assert "kimbot_db_pool_in_use" in empty
    with svc.db.session() as s:
        user = make_user(s)
        old = outbox.notify(s, clock, user.id or 0, "sub.started")
        old.created_at = to_db(clock.now() - timedelta(seconds=90))
        outbox.notify(s, clock, user.id or 0, "sub.stopped")
        done = outbox.notify(s, clock, user.id or 0, "sub.started")
        done.status = "sent"  # delivered rows are not depth
    figures = scrape(svc)
    assert figures["kimbot_outbox_depth"] == 2
    assert figures["kimbot_outbox_oldest_age_seconds"] == pytest.approx(90, abs=1)


async def test_updates_are_counted_by_channel_and_kind_with_their_latency(
        svc: Services) -> None:
    before = counter("kimbot_updates_total", channel="whatsapp", kind="text")
    timed = counter("kimbot_update_handling_seconds_count", channel="whatsapp")
    hub = ChatHub(svc, channel="whatsapp")
    sender = Sender("whatsapp", "6281234567890", "6281234567890", "Wati")
    await hub.core.handle(Inbound(sender, Text("halo"), key="wa:m1"))
    await hub.core.handle(Inbound(sender, Text("halo"), key="wa:m1"))  # a replay counts too
    figures = scrape(svc)
    assert figures['kimbot_updates_total{channel="whatsapp",kind="text"}'] == before + 2
    assert figures['kimbot_update_handling_seconds_count{channel="whatsapp"}'] == timed + 2


async def test_delivery_outcomes_sent_429_and_unreachable(
        svc: Services, clock: ManualClock) -> None:
    def seen(outcome: str) -> float:
        return counter("kimbot_deliveries_total", channel="telegram", kind="notification",
                       outcome=outcome)

    before = {o: seen(o) for o in ("sent", "429", "unreachable")}
    with svc.db.session() as s:
        ok, limited, blocked = make_user(s), make_user(s), make_user(s)
        for user in (ok, limited, blocked):
            outbox.notify(s, clock, user.id or 0, "sub.started")
    channel = FakeChannel(svc)
    channel.failures[limited.chat_id] = [RateLimited(1)]
    channel.failures[blocked.chat_id] = [Unreachable("403: blocked")]
    await DeliveryLoop(svc, channel, RateLimiter(1000)).drain()
    assert {o: seen(o) - before[o] for o in before} == {"sent": 1, "429": 1, "unreachable": 1}
    assert 'outcome="unreachable"' in metrics_response(svc)[0].decode()


def test_sla_notices_are_counted_by_stage_once_committed(
        db: Database, workflow: Workflow, clock: ManualClock) -> None:
    with db.session() as s:
        people = lumajang_people(s, "Plt Kadin")
    before = counter("kimbot_sla_notices_total", stage="reminder")
    submit(db, workflow, people.member)  # Monday 09:00: the reminder is due 09:02:15
    clock.set(wib(2026, 11, 23, 9, 2, 15))
    assert run(db, workflow).reminders == 1  # to both Staf
    assert counter("kimbot_sla_notices_total", stage="reminder") == before + 2
    overdue = counter("kimbot_sla_notices_total", stage="overdue")
    clock.set(wib(2026, 11, 23, 9, 3))

    def rolled_back() -> None:
        with db.session() as s:
            assert workflow.sla.run_due(s).overdue == 1
            raise RuntimeError

    with pytest.raises(RuntimeError):  # nothing was queued: nothing is counted
        rolled_back()
    assert counter("kimbot_sla_notices_total", stage="overdue") == overdue
    assert run(db, workflow).overdue == 1
    assert counter("kimbot_sla_notices_total", stage="overdue") == overdue + 2


def test_ready_only_when_started_migrated_and_with_a_channel(svc: Services) -> None:
    state = Lifecycle()
    assert readiness(svc, state) == (False, {"process": "starting", "database": "ok",
                                             "schema": "ok", "channel": "ok"})
    state.started = True
    assert readiness(svc, state)[0] is True
    state.stopping = True  # SIGTERM: draining
    assert readiness(svc, state)[1]["process"] == "stopping"


def test_not_ready_without_a_channel_or_with_an_old_schema(
        database_url: str, clock: ManualClock) -> None:
    with core_services(database_url, clock) as svc:  # no token, no WhatsApp
        started = Lifecycle(started=True)
        ready, checks = readiness(svc, started)
        assert (ready, checks["channel"]) == (False, "none configured")
        svc.db.downgrade("-1")
        ready, checks = readiness(svc, started)
        assert re.fullmatch(r"at \w+, code needs \w+", checks["schema"])


def test_not_ready_when_the_database_is_unreachable(svc: Services) -> None:
    working, svc.db = svc.db, Database("postgresql+psycopg://kimbot:pw@127.0.0.1:1/kimbot")
    try:
        ready, checks = readiness(svc, Lifecycle(started=True))
        assert (ready, checks["database"]) == (False, "unreachable (OperationalError)")
        figures = scrape(svc)  # the process's own figures still come
        assert "kimbot_outbox_depth" not in figures
        assert "process_cpu_seconds_total" in figures
    finally:
        svc.db.dispose()
        svc.db = working  # disposed by the fixture
