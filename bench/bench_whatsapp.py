"""WhatsApp vs Telegram in one KIM-Bot: webhook requests handled per second, and p99 to the
first reply, with members on each channel asking for their status in a loop.

One process, one bot serving both channels (WhatsApp webhook server + Telegram polling)
against the two local fakes; SQLite (WAL) in a temp dir; per-chat pacing off. Members are
written straight into the database (registration is not measured) and each has one request
in flight. The WhatsApp phase and the Telegram phase run one after the other.

    .venv/bin/python bench/bench_whatsapp.py [--members 30 --seconds 8]

Last line: `wa_ups=… tg_ups=… wa_p99_ms=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import SystemClock
from bot.conversations.events import Sender
from bot.people import Profile, ensure_user, register_member
from bot.services import Services, build_services
from bot.settings import Settings
from fakebotapi import FakeBotApi, FakeUser
from fakewa import FakeWhatsApp
from handlers.telegram.app import build_application, running
from handlers.web import bound_port, build_web, serving
from handlers.whatsapp.app import WhatsAppBot
from handlers.whatsapp.inbound import sender_of


def seed(svc: Services, senders: list[Sender]) -> None:
    clock = SystemClock()
    with svc.db.session() as session:
        for i, sender in enumerate(senders):
            user = ensure_user(session, clock, sender)
            register_member(session, clock, user, Profile(
                office="lumajang", full_name=f"Anggota {i}", kim_group="KIM Sumber Makmur",
                village="Desa Tempeh Tengah", district="Kecamatan Tempeh",
                phone=f"+62812{i:08d}"))


CPU_MS: dict[str, float] = {}  # phase -> CPU ms of this process per round trip


async def phase(people: list[Callable[[], Awaitable[object]]],
                seconds: float, name: str = "") -> tuple[float, list[float]]:
    """Everyone asks in a loop for `seconds`; (requests per second, latencies in s)."""
    latencies: list[float] = []
    cpu = time.process_time()
    end = time.perf_counter() + seconds

    async def loop(ask: Callable[[], Awaitable[object]]) -> None:
        while time.perf_counter() < end:
            started = time.perf_counter()
            await ask()
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(loop(ask) for ask in people))
    if name:
        CPU_MS[name] = 1000 * (time.process_time() - cpu) / max(len(latencies), 1)
    return len(latencies) / (time.perf_counter() - began), latencies


def wa_ask(fake: FakeWhatsApp, wa_id: str) -> Callable[[], Awaitable[object]]:
    """Post one signed webhook ("status"); done at the bot's first reply to that person."""
    async def ask() -> None:
        before = fake.changes(wa_id)
        fake.push_text(wa_id, "status")
        await fake.wait_until(lambda: fake.changes(wa_id) != before, 30)

    return ask


def tg_ask(api: FakeBotApi, user: FakeUser) -> Callable[[], Awaitable[object]]:
    """Queue one update ("/status"); done at the bot's first reply in that chat."""
    async def ask() -> None:
        before = api.chat_changes(user.chat_id)
        api.push_message(user.user, "/status")
        await api.wait_until(lambda: api.chat_changes(user.chat_id) != before, 30)

    return ask


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else 0.0


async def main(members: int, seconds: float) -> str:
    async with FakeBotApi() as api, FakeWhatsApp(auto_status=False) as fake:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                TELEGRAM_BOT_TOKEN="123456:BENCH",
                DATABASE_URL=f"sqlite:///{tmp}/bench.db",
                KIMBOT_TELEGRAM_BASE_URL=api.base_url,
                KIMBOT_TELEGRAM_FILE_URL=api.base_file_url,
                WHATSAPP_PHONE_ID=fake.phone_id, WHATSAPP_TOKEN=fake.token,
                WHATSAPP_APP_SECRET=fake.app_secret, WHATSAPP_VERIFY_TOKEN=fake.verify_token,
                KIMBOT_WHATSAPP_GRAPH_URL=fake.root_url,
                KIMBOT_WHATSAPP_PER_CHAT_INTERVAL=0, KIMBOT_PER_CHAT_INTERVAL=0,
                KIMBOT_FILE_STORE=f"file://{tmp}/files", _env_file=None,
            )
            svc = build_services(settings)
            wa_ids = [f"62813{i:08d}" for i in range(members)]
            tg_ids = [50_000 + i for i in range(members)]
            seed(svc, [sender_of(w, f"WA {i}") for i, w in enumerate(wa_ids)]
                 + [Sender("telegram", str(t), str(t), f"TG {i}") for i, t in enumerate(tg_ids)])
            try:
                async with AsyncExitStack() as stack:
                    whatsapp = WhatsAppBot(svc)
                    await whatsapp.start()
                    stack.push_async_callback(whatsapp.stop)
                    await stack.enter_async_context(running(build_application(svc)))
                    server = await stack.enter_async_context(
                        serving(build_web(whatsapp), "127.0.0.1:0"))
                    fake.webhook_url = f"http://127.0.0.1:{bound_port(server)}/whatsapp"
                    for w in wa_ids:
                        fake.register_user(w, "WA")
                    wa_people = [wa_ask(fake, w) for w in wa_ids]
                    tg_people = [tg_ask(api, FakeUser(api, t, "TG")) for t in tg_ids]
                    await phase(wa_people, 1.0)  # warm-up
                    await phase(tg_people, 1.0)
                    wa_ups, wa_lat = await phase(wa_people, seconds, "wa")
                    tg_ups, tg_lat = await phase(tg_people, seconds, "tg")
            finally:
                svc.db.dispose()
    print(f"members per channel: {members}, {seconds:g} s per phase")
    print(f"WhatsApp: {len(wa_lat)} round trips, median {statistics.median(wa_lat) * 1000:.1f} ms")
    print(f"Telegram: {len(tg_lat)} round trips, median {statistics.median(tg_lat) * 1000:.1f} ms,"
          f" p99 {p99(tg_lat) * 1000:.1f} ms")
    print(f"CPU per round trip (bot and both fakes, one process): WhatsApp "
          f"{CPU_MS['wa']:.2f} ms, Telegram {CPU_MS['tg']:.2f} ms; "
          f"WhatsApp at {100 * wa_ups / tg_ups:.0f} % of Telegram's rate (target 80 %)")
    return f"wa_ups={wa_ups:.1f} tg_ups={tg_ups:.1f} wa_p99_ms={p99(wa_lat) * 1000:.1f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(asyncio.run(main(args.members, args.seconds)))
