# ruff: noqa: F811  (the WhatsApp fixtures are imported from tests.support.wa)
"""WhatsApp webhooks: the handshake, signatures, replays, words as commands, registration."""

from __future__ import annotations

import json

from bot.models import Case, ProcessedUpdate
from fakewa import FakeWhatsApp
from tests.support.kimbot import PDF
from tests.support.wa import WaKimBot, fakewa, text, wabot  # noqa: F401


async def test_handshake_answers_the_challenge_only_with_the_verify_token(
        wabot: WaKimBot, fakewa: FakeWhatsApp) -> None:
    assert await fakewa.verify_webhook(challenge="12345") == (200, "12345")
    status, body = await fakewa.verify_webhook(verify_token="wrong", challenge="12345")
    assert status == 403
    assert "12345" not in body


async def test_unsigned_and_forged_webhooks_are_refused_and_change_nothing(
        wabot: WaKimBot, fakewa: FakeWhatsApp) -> None:
    siti = wabot.person("Siti")
    await siti.send("halo")
    payload = siti.last_delivery.payload if siti.last_delivery else {}
    # The same message under a new id, so only the signature can stop it.
    body = json.dumps(payload).replace("wamid.", "wamid.X").encode()
    before = (wabot.count(ProcessedUpdate), len(siti.messages))
    unsigned = await fakewa.post_webhook(body=body, signature=None)
    forged = await fakewa.post_webhook(body=body, signature="sha256=" + "0" * 64)
    assert unsigned.attempts[-1] == 401
    assert forged.attempts[-1] in (401, 403)
    assert (wabot.count(ProcessedUpdate), len(siti.messages)) == before


async def test_a_replayed_webhook_is_handled_once(wabot: WaKimBot, fakewa: FakeWhatsApp) -> None:
    siti = wabot.person("Siti")
    await siti.send("daftar")
    await siti.send("Siti Aminah")
    asked = len(siti.messages)
    assert siti.last_delivery is not None
    await fakewa.replay(siti.last_delivery)
    await siti.expect_silence(0.3)
    assert len(siti.messages) == asked
    assert wabot.user_of(siti.wa_id).full_name is None  # still at the second question


async def test_member_registers_without_being_asked_the_phone(wabot: WaKimBot) -> None:
    wati = await wabot.member("Wati Susanti")
    row = wabot.user_of(wati.wa_id)
    assert row.registered_at is not None
    assert row.phone == f"+{wati.wa_id}"
    assert not any(text("reg.ask_phone") in m.content for m in wati.messages)


async def test_words_work_as_commands_and_menu_is_a_list(wabot: WaKimBot) -> None:
    wati = await wabot.member("Wati Susanti")
    replies = await wati.send("Menu")
    menu = replies[-1]
    assert menu.interactive_type == "list"
    assert any(title.startswith("permohonan") for _, title in menu.choices)
    await wati.click("status")
    assert wati.last_message is not None
    replies = await wati.send("bahasa")
    await wati.click("English")
    assert wabot.user_of(wati.wa_id).language == "en"


async def test_batal_leaves_a_dialog_but_a_name_like_a_command_is_taken(wabot: WaKimBot) -> None:
    budi = wabot.person("Budi")
    await budi.send("daftar")
    await budi.send("Status")  # a (strange) name: the dialog waits for text, so it is text
    assert wabot.user_of(budi.wa_id).registered_at is None
    replies = await budi.send("batal")
    assert any(text("cancel.done") in m.content for m in replies)


async def test_video_and_exe_are_refused(wabot: WaKimBot) -> None:
    wati = await wabot.member("Wati Susanti")
    await wati.send("permohonan")
    await wati.click("Permohonan pelayanan")
    await wati.send("Mohon peliputan kegiatan KIM.")
    refusal = text("error.file_type")
    video = await wati.send_video()
    assert any(refusal in m.content for m in video)
    exe = await wati.send_document("setup.exe", b"MZ\x90\x00" + b"\x00" * 64,
                                   "application/x-msdownload")
    assert any(refusal in m.content for m in exe)
    # Still waiting for the first document: a PDF goes on.
    await wati.send_image()
    await wati.send_document("surat_tugas.pdf", PDF, "application/pdf")
    assert any("Kirim" in b for b in wati.buttons())
    assert wabot.count(Case) == 0
