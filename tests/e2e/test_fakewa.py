"""End-to-end tests of ``fakewa``: pywa's own client and types against the fake Cloud API."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pywa_async
from aiohttp import web
from pywa import utils as pywa_utils
from pywa_async import errors as wa_errors
from pywa_async import handlers, types
from pywa_async.types.templates import BodyText, TemplateLanguage

from fakewa import TINY_JPEG, FakeWaUser, FakeWhatsApp, WaError, bsuid

SITI = "6281234567890"
BUDI = "6285700000001"


@dataclass
class EchoBot:
    """A tiny pywa bot behind an aiohttp webhook, recording what pywa parsed."""

    fake: FakeWhatsApp
    wa: pywa_async.WhatsApp
    updates: list[Any] = field(default_factory=list)
    statuses: list[types.MessageStatus] = field(default_factory=list)
    posts: list[bytes] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # next webhook answers (e.g. 500)
    downloads: list[bytes] = field(default_factory=list)

    async def handle_get(self, request: web.Request) -> web.Response:
        text, status = await self.wa.webhook_challenge_handler(
            vt=request.query.get(pywa_utils.HUB_VT), ch=request.query.get(pywa_utils.HUB_CH)
        )
        return web.Response(text=text or "", status=status)

    async def handle_post(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts.append(body)
        if self.fail_with:
            status = self.fail_with.pop(0)
            self.answers.append(status)
            return web.Response(text="busy", status=status)
        refused = await self.wa.webhook_update_validator(
            body, request.headers.get(pywa_utils.HUB_SIG)
        )
        if refused is not None:
            self.answers.append(refused[1])
            return web.Response(text=refused[0], status=refused[1])
        text, status = await self.wa.webhook_update_handler(body)
        self.answers.append(status)
        return web.Response(text=text, status=status)

    async def on_message(self, wa: pywa_async.WhatsApp, msg: types.Message) -> None:
        self.updates.append(msg)
        if msg.image is not None:
            data = await msg.image.get_bytes()
            self.downloads.append(data)
            await msg.reply_text(f"foto {len(data)} bytes")
            await wa.send_image(msg.from_user.wa_id or "", data, caption="salinan")
            return
        if msg.document is not None:
            data = await msg.document.get_bytes()
            await msg.reply_text(f"dok {msg.document.filename} {len(data)}")
            return
        if msg.text is None:
            await msg.reply_text(f"jenis {msg.type}")
            return
        if msg.text == "tombol":
            await msg.reply_text(
                "Setuju?", buttons=[types.Button("Setuju", "YES 1"), types.Button("Tolak", "NO 1")]
            )
        elif msg.text == "daftar":
            rows = [types.SectionRow(f"Pilihan {i}", f"PICK {i}", "ket") for i in range(1, 4)]
            await msg.reply_text(
                "Pilih satu", buttons=types.SectionList("Menu", [types.Section("Menu", rows)])
            )
        elif msg.text == "diam":
            return
        else:
            await msg.reply_text(msg.text)

    async def on_button(self, wa: pywa_async.WhatsApp, btn: types.CallbackButton) -> None:
        self.updates.append(btn)
        await btn.reply_text(f"tombol {btn.data}")

    async def on_selection(self, wa: pywa_async.WhatsApp, sel: types.CallbackSelection) -> None:
        self.updates.append(sel)
        await sel.reply_text(f"pilihan {sel.data}")

    async def on_status(self, wa: pywa_async.WhatsApp, status: types.MessageStatus) -> None:
        self.statuses.append(status)


def _client(fake: FakeWhatsApp, token: str | None = None) -> pywa_async.WhatsApp:
    return pywa_async.WhatsApp(
        phone_id=fake.phone_id,
        token=token or fake.token,
        session=fake.httpx_client(),
        server=None,
        verify_token=fake.verify_token,
        app_secret=fake.app_secret,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp(retry_delay=0.01) as server:
        yield server
    assert server.server_errors == []


@pytest.fixture
async def bot(fake: FakeWhatsApp) -> AsyncIterator[EchoBot]:
    echo = EchoBot(fake, _client(fake))
    echo.wa.add_handlers(
        handlers.MessageHandler(echo.on_message),
        handlers.CallbackButtonHandler(echo.on_button),
        handlers.CallbackSelectionHandler(echo.on_selection),
        handlers.MessageStatusHandler(echo.on_status),
    )
    app = web.Application()
    app.router.add_get("/wa", echo.handle_get)
    app.router.add_post("/wa", echo.handle_post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.webhook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/wa"
    try:
        yield echo
    finally:
        await fake.wait_deliveries()
        await runner.cleanup()


@pytest.fixture
def siti(fake: FakeWhatsApp) -> FakeWaUser:
    return FakeWaUser(fake, SITI, "Siti Aminah")


def _raw(fake: FakeWhatsApp, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=fake.root_url, trust_env=False, **kwargs)


# ---------------------------------------------------------------- conversations via pywa


async def test_text_roundtrip(bot: EchoBot, siti: FakeWaUser) -> None:
    replies = await siti.send("halo dunia")
    assert [m.text for m in replies] == ["halo dunia"]
    assert replies[0].kind == "text"
    assert replies[0].id.startswith("wamid.")
    msg = bot.updates[0]
    assert isinstance(msg, types.Message)
    assert msg.text == "halo dunia"
    assert msg.from_user.wa_id == SITI
    assert msg.from_user.name == "Siti Aminah"
    assert msg.from_user.bsuid == bsuid(SITI)
    assert msg.id.startswith("wamid.")
    await siti.send("balasan", reply_to=replies[0])
    assert bot.updates[-1].reply_to_message.id == replies[0].id
    # pywa replies to the business-scoped id; the fake maps it back to the number.
    assert bot.fake.calls_of("POST", "/messages")[0].json["recipient"] == bsuid(SITI)


async def test_message_ids_are_unique(bot: EchoBot, siti: FakeWaUser) -> None:
    await siti.send("satu")
    await siti.send("dua")
    inbound = [u.id for u in bot.updates]
    outbound = [m.id for m in siti.messages]
    assert len(set(inbound + outbound)) == 4


async def test_reply_buttons_and_click(bot: EchoBot, siti: FakeWaUser) -> None:
    [question] = await siti.send("tombol")
    assert question.interactive_type == "button"
    assert question.choices == [("YES 1", "Setuju"), ("NO 1", "Tolak")]
    assert siti.buttons() == ["Setuju", "Tolak"]
    replies = await siti.click("Setuju")
    assert [m.text for m in replies] == ["tombol YES 1"]
    press = bot.updates[-1]
    assert isinstance(press, types.CallbackButton)
    assert press.data == "YES 1"
    assert press.title == "Setuju"
    assert press.reply_to_message is not None
    assert press.reply_to_message.id == question.id


async def test_list_and_selection(bot: EchoBot, siti: FakeWaUser) -> None:
    [menu] = await siti.send("daftar")
    assert menu.interactive_type == "list"
    assert menu.list_button == "Menu"
    assert siti.buttons() == ["Pilihan 1", "Pilihan 2", "Pilihan 3"]
    replies = await siti.click("Pilihan 2")
    assert [m.text for m in replies] == ["pilihan PICK 2"]
    selection = bot.updates[-1]
    assert isinstance(selection, types.CallbackSelection)
    assert selection.data == "PICK 2"
    assert selection.reply_to_message.id == menu.id


async def test_click_raw_id_on_an_old_message(bot: EchoBot, siti: FakeWaUser) -> None:
    [first] = await siti.send("tombol")
    await siti.send("tombol")
    replies = await siti.click(id="NO 1", message=first)
    assert [m.text for m in replies] == ["tombol NO 1"]
    assert bot.updates[-1].reply_to_message.id == first.id


async def test_image_download_and_upload(bot: EchoBot, siti: FakeWaUser) -> None:
    replies = await siti.send_image(TINY_JPEG, caption="surat")
    assert bot.downloads == [TINY_JPEG]
    msg = bot.updates[0]
    assert msg.caption == "surat"
    assert msg.image.mime_type == "image/jpeg"
    assert msg.image.sha256 == hashlib.sha256(TINY_JPEG).hexdigest()
    assert [m.kind for m in replies] == ["text", "image"]
    assert replies[0].text == f"foto {len(TINY_JPEG)} bytes"
    image = replies[1]
    assert image.caption == "salinan"
    assert image.media_bytes == TINY_JPEG
    uploaded = bot.fake.get_media(image.media_id or "")
    assert uploaded is not None
    assert uploaded.origin == "bot"


async def test_document_and_other_kinds(bot: EchoBot, siti: FakeWaUser) -> None:
    data = b"%PDF-1.4 surat"
    replies = await siti.send_document("surat.pdf", data, "application/pdf", caption="ini")
    assert [m.text for m in replies] == [f"dok surat.pdf {len(data)}"]
    assert bot.updates[0].document.filename == "surat.pdf"
    assert bot.updates[0].caption == "ini"
    assert [m.text for m in await siti.send_video()] == ["jenis video"]
    assert [m.text for m in await siti.send_contact()] == ["jenis contacts"]
    assert bot.updates[-1].contacts[0].phones[0].wa_id == SITI
    assert [m.text for m in await siti.send_location()] == ["jenis location"]
    assert [m.text for m in await siti.send_audio()] == ["jenis audio"]
    assert [m.text for m in await siti.send_sticker()] == ["jenis sticker"]
    assert [m.text for m in await siti.send_unsupported()] == ["jenis unsupported"]
    target = siti.messages[0]
    assert [m.text for m in await siti.react(target, "👍", expect_reply=True)] == ["jenis reaction"]
    assert bot.updates[-1].reaction.message_id == target.id
    assert bot.updates[-1].reaction.emoji == "👍"


async def test_expect_reply_false_and_silence(bot: EchoBot, siti: FakeWaUser) -> None:
    assert await siti.send("diam", expect_reply=False) == []
    assert siti.last_delivery is not None
    assert siti.last_delivery.delivered
    await siti.expect_silence(0.1)
    await siti.send("lagi")
    assert siti.texts() == ["lagi"]


# ---------------------------------------------------------------- statuses and webhooks


async def test_status_webhooks_parse(bot: EchoBot, siti: FakeWaUser) -> None:
    [reply] = await siti.send("halo")
    assert [s.status for s in bot.statuses] == [
        types.MessageStatusType.SENT,
        types.MessageStatusType.DELIVERED,
    ]
    assert {s.id for s in bot.statuses} == {reply.id}
    assert bot.statuses[0].from_user.wa_id == SITI
    assert bot.statuses[0].pricing is not None
    await siti.read()
    assert bot.statuses[-1].status == types.MessageStatusType.READ
    assert reply.status == "read"


async def test_signature_is_hmac_of_raw_body(bot: EchoBot, siti: FakeWaUser) -> None:
    await siti.send("héllo ✓")
    delivery = bot.fake.deliveries[0]
    expected = hmac.new(b"fake-app-secret", delivery.body, hashlib.sha256).hexdigest()
    assert delivery.signature == f"sha256={expected}"
    assert b"\\u00e9" in delivery.body  # non-ASCII escaped, as Meta sends it
    assert pywa_utils.webhook_updates_validator(
        app_secret=bot.fake.app_secret,
        request_body=delivery.body,
        x_hub_signature=delivery.signature or "",
    )
    assert bot.updates[0].text == "héllo ✓"


async def test_forged_and_unsigned_webhooks_are_refused(bot: EchoBot, siti: FakeWaUser) -> None:
    delivery = bot.fake.push_text(SITI, "asli")
    await bot.fake.wait_deliveries()
    count = len(bot.updates)
    forged = await bot.fake.post_webhook(body=delivery.body, signature="sha256=" + "0" * 64)
    unsigned = await bot.fake.post_webhook(body=delivery.body, signature=None)
    other_key = hmac.new(b"wrong", delivery.body, hashlib.sha256).hexdigest()
    wrong_key = await bot.fake.post_webhook(body=delivery.body, signature=f"sha256={other_key}")
    assert forged.attempts == [403]
    assert unsigned.attempts == [401]
    assert wrong_key.attempts == [403]
    assert len(bot.updates) == count


async def test_verify_handshake(bot: EchoBot) -> None:
    assert await bot.fake.verify_webhook(challenge="12345") == (200, "12345")
    status, _ = await bot.fake.verify_webhook(verify_token="salah", challenge="1")
    assert status == 403


async def test_webhook_retried_until_2xx(bot: EchoBot, siti: FakeWaUser) -> None:
    bot.fail_with = [500, 503]
    replies = await siti.send("coba")
    assert [m.text for m in replies] == ["coba"]
    delivery = bot.fake.deliveries[0]
    assert delivery.attempts == [500, 503, 200]
    assert bot.posts[0] == bot.posts[1] == bot.posts[2]


async def test_webhook_given_up_after_retries(bot: EchoBot, siti: FakeWaUser) -> None:
    bot.fake.webhook_retries = 1
    bot.fail_with = [500, 500]
    with pytest.raises(AssertionError, match="refused the webhook"):
        await siti.send("coba")
    assert bot.fake.deliveries[0].attempts == [500, 500]
    assert not bot.fake.deliveries[0].delivered


async def test_replay_sends_the_same_bytes(bot: EchoBot, siti: FakeWaUser) -> None:
    await siti.send("sekali")
    original = bot.fake.deliveries[0]
    again = await bot.fake.replay(original)
    assert again.delivered
    assert again.body == original.body
    assert again.signature == original.signature
    assert bot.posts.count(original.body) == 2
    # pywa itself drops the byte-identical duplicate ...
    assert [u.text for u in bot.updates if isinstance(u, types.Message)] == ["sekali"]
    # ... but not the same message serialised differently: only a message-id check would.
    fresh = await bot.fake.replay(original, same_bytes=False)
    assert fresh.delivered
    assert fresh.body != original.body
    assert json.loads(fresh.body) == json.loads(original.body)
    assert fresh.signature == bot.fake.sign(fresh.body)
    texts = [u for u in bot.updates if isinstance(u, types.Message)]
    assert [u.text for u in texts] == ["sekali", "sekali"]
    assert texts[0].id == texts[1].id


async def test_duplicate_deliveries_option(bot: EchoBot, siti: FakeWaUser) -> None:
    bot.fake.duplicate_deliveries = True
    await siti.send("dobel")
    message_posts = [b for b in bot.posts if b'"body":"dobel"' in b]
    assert len(message_posts) == 2
    assert message_posts[0] == message_posts[1]


# ---------------------------------------------------------------- limits and errors


async def _open(fake: FakeWhatsApp, wa_id: str = SITI) -> pywa_async.WhatsApp:
    fake.set_last_inbound(wa_id, fake.now())
    return _client(fake)


async def test_interactive_limits(fake: FakeWhatsApp) -> None:
    wa = await _open(fake)
    four = [types.Button(f"B{i}", f"b{i}") for i in range(4)]
    with pytest.raises(wa_errors.InvalidParameter, match="Number of buttons"):
        await wa.send_message(SITI, "x", buttons=four)
    with pytest.raises(wa_errors.InvalidParameter, match="Button title length"):
        await wa.send_message(SITI, "x", buttons=[types.Button("x" * 21, "long")])
    ok = await wa.send_message(SITI, "x", buttons=[types.Button("x" * 20, "ok")])
    assert fake.get_message(ok.id) is not None
    rows = [types.SectionRow(f"R{i}", f"r{i}") for i in range(11)]
    with pytest.raises(wa_errors.InvalidParameter, match="row count"):
        await wa.send_message(
            SITI,
            "x",
            buttons=types.SectionList(
                "Menu", [types.Section("A", rows[:6]), types.Section("B", rows[6:])]
            ),
        )
    with pytest.raises(wa_errors.InvalidParameter, match="Row title length"):
        await wa.send_message(
            SITI,
            "x",
            buttons=types.SectionList(
                "Menu", [types.Section("A", [types.SectionRow("y" * 25, "r")])]
            ),
        )
    with pytest.raises(wa_errors.WhatsAppError) as body_err:
        await wa.send_message(SITI, "b" * 1025, buttons=[types.Button("Ya", "y")])
    assert body_err.value.code == 100
    with pytest.raises(wa_errors.WhatsAppError) as text_err:
        await wa.send_message(SITI, "t" * 4097)
    assert text_err.value.code == 100
    await wa.send_message(SITI, "t" * 4096)
    assert [m.text for m in fake.messages(SITI)] == ["x", "t" * 4096]


async def test_error_shape(fake: FakeWhatsApp) -> None:
    fake.set_last_inbound(SITI, fake.now())
    headers = {"Authorization": f"Bearer {fake.token}"}
    payload = {
        "messaging_product": "whatsapp",
        "to": SITI,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "x"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": f"b{i}", "title": f"B{i}"}} for i in range(4)
                ]
            },
        },
    }
    async with _raw(fake, headers=headers) as http:
        res = await http.post(f"/v22.0/{fake.phone_id}/messages", json=payload)
        assert res.status_code == 400
        error = res.json()["error"]
        assert set(error) == {"message", "type", "code", "error_data", "fbtrace_id"}
        assert error["code"] == 131009
        assert error["type"] == "OAuthException"
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert "buttons" in error["error_data"]["details"]
        wrong_phone = await http.post("/v22.0/999/messages", json=payload)
        assert wrong_phone.status_code == 400
        assert wrong_phone.json()["error"]["error_subcode"] == 33


async def test_bearer_token_required(fake: FakeWhatsApp) -> None:
    async with _raw(fake) as http:
        res = await http.post(f"/v22.0/{fake.phone_id}/messages", json={})
        assert res.status_code == 401
        assert res.json()["error"]["code"] == 190
        res = await http.get("/v22.0/123", headers={"Authorization": "Bearer salah"})
        assert res.status_code == 401
    wa = await _open(fake)
    wrong = _client(fake, token="salah")
    with pytest.raises(wa_errors.ExpiredAccessToken):
        await wrong.send_message(SITI, "x")
    await wa.send_message(SITI, "x")
    assert len(fake.messages(SITI)) == 1


async def test_media_endpoints(fake: FakeWhatsApp) -> None:
    wa = _client(fake)
    uploaded = await wa.upload_media(b"%PDF-1.4 isi", mime_type="application/pdf", filename="a.pdf")
    info = await wa.get_media_url(uploaded.id)
    assert info.mime_type == "application/pdf"
    assert info.sha256 == hashlib.sha256(b"%PDF-1.4 isi").hexdigest()
    assert info.file_size == len(b"%PDF-1.4 isi")
    assert await wa.get_media_bytes(info.url) == b"%PDF-1.4 isi"
    async with _raw(fake) as http:
        assert (await http.get(info.url)).status_code == 401  # no Bearer token
    assert await wa.delete_media(uploaded.id)
    with pytest.raises(wa_errors.WhatsAppError) as gone:
        await wa.get_media_url(uploaded.id)
    assert gone.value.code == 100
    fake.set_last_inbound(SITI, fake.now())
    with pytest.raises(wa_errors.MediaUploadError):
        await wa.send_document(SITI, uploaded.id, filename="a.pdf")
    with pytest.raises(wa_errors.WhatsAppError):
        await wa.upload_media(b"MZ\x90\x00", mime_type="application/x-msdownload", filename="a.exe")


async def test_template_send(fake: FakeWhatsApp) -> None:
    wa = _client(fake)  # no inbound message: only templates may go out
    sent = await wa.send_template(
        SITI,
        name="tugas_baru",
        language=TemplateLanguage.INDONESIAN,
        params=[BodyText.params("Surat 12", "Budi")],
    )
    [msg] = fake.messages(SITI)
    assert msg.id == sent.id
    assert msg.kind == "template"
    assert msg.template_name == "tugas_baru"
    assert msg.template_language == "id"
    assert msg.template_params == ["Surat 12", "Budi"]


async def test_registered_templates_are_checked(fake: FakeWhatsApp) -> None:
    fake.add_template("tugas_baru", "id", "Tugas baru: {{1}} dari {{2}}.", buttons=["Buka"])
    wa = _client(fake)
    await wa.send_template(
        SITI,
        name="tugas_baru",
        language=TemplateLanguage.INDONESIAN,
        params=[BodyText.params("Surat 12", "Budi")],
    )
    assert fake.messages(SITI)[0].text == "Tugas baru: Surat 12 dari Budi."
    with pytest.raises(wa_errors.TemplateNotExists):
        await wa.send_template(
            SITI, name="tugas_baru", language=TemplateLanguage.ENGLISH_US, params=[]
        )
    with pytest.raises(wa_errors.TemplateParamCountMismatch):
        await wa.send_template(
            SITI,
            name="tugas_baru",
            language=TemplateLanguage.INDONESIAN,
            params=[BodyText.params("hanya satu")],
        )


async def test_template_quick_reply_click(bot: EchoBot, siti: FakeWaUser) -> None:
    bot.fake.add_template("tugas_baru", "id", "Tugas: {{1}}", buttons=["Buka", "Nanti"])
    await bot.wa.send_template(
        SITI,
        name="tugas_baru",
        language=TemplateLanguage.INDONESIAN,
        params=[
            BodyText.params("Surat 12"),
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "OPEN 12"}],
            },
        ],
    )
    await siti.wait_quiet()
    assert siti.texts() == ["Tugas: Surat 12"]
    assert siti.buttons() == ["Buka", "Nanti"]
    replies = await siti.click("Buka")
    assert [m.text for m in replies] == ["tombol OPEN 12"]
    press = bot.updates[-1]
    assert isinstance(press, types.CallbackButton)
    assert press.is_quick_reply
    assert press.title == "Buka"
    # A quick reply without a payload in the send carries its own text.
    replies = await siti.click("Nanti", message=siti.messages[0])
    assert [m.text for m in replies] == ["tombol Nanti"]


async def test_24_hour_window(bot: EchoBot, siti: FakeWaUser) -> None:
    await siti.send("halo")
    assert siti.window_open
    bot.fake.advance(hours=23)
    await bot.wa.send_message(SITI, "masih boleh")
    bot.fake.advance(hours=1, seconds=1)
    assert not siti.window_open
    with pytest.raises(wa_errors.ReEngagementMessage):
        await bot.wa.send_message(SITI, "terlambat")
    await bot.wa.send_template(SITI, name="pengingat", language=TemplateLanguage.INDONESIAN)
    assert siti.texts() == ["halo", "masih boleh", "pengingat"]
    await siti.send("saya kembali")  # a new message opens the window again
    await bot.wa.send_message(SITI, "boleh lagi")
    assert siti.texts()[-1] == "boleh lagi"


async def test_window_error_as_failed_status(bot: EchoBot, siti: FakeWaUser) -> None:
    bot.fake.window_errors = "webhook"
    sent = await bot.wa.send_message(SITI, "tanpa jendela")  # accepted with a wamid ...
    await siti.wait_quiet()
    assert siti.messages == []  # ... but never reaches the person
    [status] = bot.statuses
    assert status.id == sent.id
    assert status.status == types.MessageStatusType.FAILED
    assert status.error is not None
    assert status.error.code == 131047
    assert bot.fake.messages(SITI, include_failed=True)[0].failed


async def test_pair_rate_limit(fake: FakeWhatsApp) -> None:
    wa = await _open(fake)
    fake.pair_rate_limit = 6.0
    await wa.send_message(SITI, "satu")
    with pytest.raises(wa_errors.TooManyMessages):
        await wa.send_message(SITI, "dua")
    fake.set_last_inbound(BUDI, fake.now())
    await wa.send_message(BUDI, "orang lain boleh")
    fake.advance(6)
    await wa.send_message(SITI, "dua")
    assert [m.text for m in fake.messages(SITI)] == ["satu", "dua"]


async def test_throughput_limit(fake: FakeWhatsApp) -> None:
    wa = await _open(fake)
    fake.throughput_limit = 2
    await wa.send_message(SITI, "1")
    await wa.send_message(SITI, "2")
    with pytest.raises(wa_errors.RateLimitHit):
        await wa.send_message(SITI, "3")
    fake.advance(1)
    await wa.send_message(SITI, "3")


async def test_injected_errors(fake: FakeWhatsApp) -> None:
    wa = await _open(fake)
    fake.set_last_inbound(BUDI, fake.now())
    fake.fail_next(131056, wa_id=BUDI, times=2)
    await wa.send_message(SITI, "siti tidak terkena")
    for _ in range(2):
        with pytest.raises(wa_errors.TooManyMessages):
            await wa.send_message(BUDI, "x")
    await wa.send_message(BUDI, "sekarang bisa")
    fake.fail_next(130429, details="coba lagi nanti")
    with pytest.raises(wa_errors.RateLimitHit, match="coba lagi nanti"):
        await wa.send_message(SITI, "x")
    fake.fail_next(131026, via="webhook")
    sent = await wa.send_message(SITI, "tak sampai")
    msg = fake.get_message(sent.id)
    assert msg is not None
    assert msg.failed
    assert msg.errors[0]["code"] == 131026
    assert [m.text for m in fake.messages(SITI)] == ["siti tidak terkena"]


async def test_read_receipt_and_reaction(bot: EchoBot, siti: FakeWaUser) -> None:
    await siti.send("halo")
    incoming = bot.updates[0]
    await incoming.mark_as_read()
    assert bot.fake.read_receipts == [incoming.id]
    await incoming.react("👍")
    reaction = bot.fake.messages(SITI)[-1]
    assert reaction.kind == "reaction"
    assert reaction.emoji == "👍"
    assert reaction.reply_to == incoming.id


# ---------------------------------------------------------------- payload shapes


def test_error_objects() -> None:
    err = WaError(131047).as_dict()["error"]
    assert err["code"] == 131047
    assert err["message"] == "(#131047) Re-engagement message"
    assert "24 hours" in err["error_data"]["details"]
    assert err["fbtrace_id"]
    assert WaError(131056).status_error()["title"] == (
        "(Business Account, Consumer Account) pair rate limit hit"
    )


async def test_pywa_types_parse_every_payload(fake: FakeWhatsApp) -> None:
    wa = _client(fake)
    fake.register_user(SITI, "Siti")
    payloads = [
        fake.push_text(SITI, "halo").payload,
        fake.push_media(SITI, "image", TINY_JPEG, "image/jpeg", caption="c").payload,
        fake.push_media(SITI, "document", b"x", "application/pdf", filename="a.pdf").payload,
        fake.push_media(SITI, "video", b"v", "video/mp4").payload,
    ]
    kinds = []
    for payload in payloads:
        msg = types.Message.from_update(client=wa, update=payload)
        kinds.append(msg.type)
        assert msg.from_user.wa_id == SITI
        assert msg.metadata.phone_number_id == fake.phone_id
    assert kinds == [
        types.MessageType.TEXT,
        types.MessageType.IMAGE,
        types.MessageType.DOCUMENT,
        types.MessageType.VIDEO,
    ]
    press = fake.push_message(
        SITI,
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "A", "title": "a"}},
        },
        context="wamid.X",
    ).payload
    assert types.CallbackButton.from_update(client=wa, update=press).data == "A"
    pick = fake.push_message(
        SITI,
        {
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": "R", "title": "r"}},
        },
        context="wamid.Y",
    ).payload
    assert types.CallbackSelection.from_update(client=wa, update=pick).data == "R"
    fake.set_last_inbound(SITI, fake.now())
    sent = await wa.send_message(SITI, "x")
    failed = fake.push_status(sent.id, "failed", error=WaError(131026)).payload
    status = types.MessageStatus.from_update(client=wa, update=failed)
    assert status.status == types.MessageStatusType.FAILED
    assert status.error is not None
    assert status.error.code == 131026
    entry = json.loads(fake.deliveries[-1].body)["entry"][0]
    assert entry["id"] == fake.waba_id
    assert entry["changes"][0]["field"] == "messages"
    await fake.wait_deliveries()  # no webhook_url: deliveries end without attempts
    assert all(d.attempts == [0] for d in fake.deliveries)
