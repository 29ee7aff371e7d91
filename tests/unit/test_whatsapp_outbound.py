"""How an Outcome becomes WhatsApp messages within WhatsApp's limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError

from bot.conversations.intents import Act, Cmd, Office
from bot.conversations.output import Button, Edit, Message, Outcome
from fakewa import FakeWhatsApp
from handlers.whatsapp.delivery import classify
from handlers.whatsapp.outbound import (
    BODY_LIMIT,
    BUTTON_TITLE,
    ROW_DESCRIPTION,
    ROW_TITLE,
    ROWS_MAX,
    close,
    keep_tail,
    payload,
    plan,
    post,
    shorten,
)


def test_three_short_buttons_are_reply_buttons() -> None:
    rows = [[Button("Ya", Act(1, 2, "ok")), Button("Tidak", Act(1, 2, "no"))],
            [Button("Lewati", Act(1, 2, "skip"))]]
    [out] = plan(Outcome([Message("Lanjut?", rows)]))
    assert out.buttons == [("a 1 2 ok", "Ya"), ("a 1 2 no", "Tidak"), ("a 1 2 skip", "Lewati")]
    typ, msg = payload(out)
    assert typ == "interactive"
    assert msg["type"] == "button"


def test_long_labels_or_more_buttons_make_a_list_with_the_full_label_described() -> None:
    label = "Kembalikan ke Kasi untuk diperbaiki"
    [out] = plan(Outcome([Message("Pilih", [[Button(label, Act(1, 2, "back"))]])]))
    [(data, title, description)] = out.rows
    assert data == "a 1 2 back"
    assert len(title) <= ROW_TITLE
    assert title == "Kembalikan ke Kasi…"
    assert description == label


def test_titles_that_would_be_equal_keep_their_tails() -> None:
    names = ["Dinas Komunikasi dan Informatika Kabupaten Lumajang",
             "Dinas Komunikasi dan Informatika Kabupaten Kolaka"]
    rows = [[Button(n, Office(n.split()[-1].lower()))] for n in names]
    [out] = plan(Outcome([Message("Kantor?", rows)]))
    titles = [title for _, title, _ in out.rows]
    assert len(set(titles)) == 2
    assert titles[0].endswith("Lumajang")
    assert titles[1].endswith("Kolaka")
    assert all(len(t) <= ROW_TITLE for t in titles)


def test_more_than_ten_rows_are_split_into_lists() -> None:
    rows = [[Button(f"perintah{i} — keterangan", Cmd(f"c{i}"))] for i in range(23)]
    outs = plan(Outcome([Message("Menu", rows)]))
    assert [len(o.rows) for o in outs] == [ROWS_MAX, ROWS_MAX, 3]
    assert outs[0].rows[0][1:] == ("perintah0", "keterangan")
    assert outs[2].text == "Menu (3/3)"


def test_a_long_body_goes_first_as_text() -> None:
    body = "x" * (BODY_LIMIT + 10) + "\nPilih tindakan:"
    outs = plan(Outcome([Message(body, [[Button("Ya", Act(1, 1, "ok"))]])]))
    assert outs[0].text.startswith("x")
    assert not outs[0].buttons
    assert outs[1].text == "Pilih tindakan:"
    assert outs[1].buttons


def test_edits_become_new_messages_and_a_bare_removal_is_dropped() -> None:
    assert plan(Outcome(edit=Edit())) == []
    [done] = plan(Outcome(edit=Edit(append="✅ Diteruskan")))
    assert done.text == "✅ Diteruskan"
    [changed] = plan(Outcome(answer="Sudah ditangani", edit=Edit(text=None)))
    assert changed.text == "Sudah ditangani"  # the alert as a text message


def test_shortening() -> None:
    assert shorten("Paraf & teruskan ke Sekdis", BUTTON_TITLE) == "Paraf & teruskan ke…"
    assert len(shorten("a" * 100, ROW_DESCRIPTION)) == ROW_DESCRIPTION
    assert keep_tail("Dinas Komunikasi dan Informatika Kabupaten Kolaka", 24).endswith(
        "… Kolaka")


# -- the lean Graph API poster, against the fake Cloud API ------------------------------------


def _client(graph_url: str, fake: FakeWhatsApp) -> WhatsApp:
    wa = WhatsApp(phone_id=fake.phone_id, token=fake.token, server=None,
                  verify_token=fake.verify_token, app_secret=fake.app_secret,
                  validate_updates=True)
    api: Any = wa.api
    api._session.base_url = str(api._session.base_url).replace(
        "https://graph.facebook.com", graph_url)
    return wa


async def _refusal(sending: Awaitable[str]) -> WhatsAppError:
    """The WhatsAppError `sending` raises (pywa's frozen errors do not go through
    pytest.raises: their __traceback__ cannot be set there)."""
    try:
        await sending
    except WhatsAppError as exc:
        return exc
    raise AssertionError("no WhatsAppError")


async def test_messages_go_out_on_the_lean_client_and_errors_keep_pywas_types() -> None:
    async with FakeWhatsApp() as fake:
        wa = _client(fake.root_url, fake)
        fake.set_last_inbound("6281234567890", fake.now())  # the person wrote: window open
        try:
            typ, msg = payload(plan(Outcome([Message("Pilih ✓", [[
                Button("Ya", Act(1, 2, "ok"))]])]))[0])
            wamid = await post(wa, "6281234567890", typ, msg)
            assert wamid.startswith("wamid.")
            [shown] = fake.messages("6281234567890")
            assert shown.id == wamid
            assert shown.buttons == [("a 1 2 ok", "Ya")]
            assert [c.status for c in fake.calls] == [200]  # the token was accepted

            fake.fail_next(131047, "Re-engagement message")  # the 24-hour window is closed
            refused = await _refusal(post(wa, "6281234567890", "text", {"body": "halo"}))
            assert refused.code == 131047
            assert type(classify(refused)).__name__ == "Rejected"
            fake.fail_next(130429, "Rate limit hit", http_status=429)
            limited = await _refusal(post(wa, "6281234567890", "text", {"body": "halo"}))
            assert type(classify(limited)).__name__ == "RateLimited"
            assert await post(wa, "6281234567890", "text", {"body": "lagi"})  # still usable
        finally:
            close(wa)
            await wa.api._session.aclose()


async def test_a_graph_api_that_cannot_be_reached_is_not_sent() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with FakeWhatsApp() as fake:
        wa = _client(f"http://127.0.0.1:{port}", fake)
        try:
            with pytest.raises(httpx.ConnectError) as failed:
                await post(wa, "6281234567890", "text", {"body": "halo"})
            assert type(classify(failed.value)).__name__ == "Transient"  # safe to retry
        finally:
            close(wa)
            await wa.api._session.aclose()
