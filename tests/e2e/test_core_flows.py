"""The conversations driven with no channel at all: events into the core, outcomes out.

No Telegram (no PTB, no fake Bot API): `tests/support/chat.py` plays the adapter. This is
what lets a second channel reuse every flow.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.services import Services
from tests.conftest import REPO_ROOT
from tests.support.catalog import text
from tests.support.chat import PDF, ChatHub, ChatPerson, Shown, core_services

ADMIN = "9000"


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    with core_services(database_url, clock, KIMBOT_ADMIN_IDS=ADMIN) as services:
        yield services


@pytest.fixture
def hub(svc: Services) -> ChatHub:
    return ChatHub(svc)


async def official(hub: ChatHub, name: str, role: str, office: str = "lumajang") -> ChatPerson:
    admin = hub.people.get(ADMIN) or hub.person("Admin", account_id=ADMIN)
    [invite] = await admin.send(f"/undang {office} {role}")
    match = re.search(r"(?:Kode|Code): ([A-Za-z0-9_-]+)", invite.text)
    assert match, invite.text
    person = hub.person(name)
    replies = await person.send(f"/start {match.group(1)}")
    assert replies[0].text.startswith(text("invite.accepted", role="", office="")[:10])
    return person


async def member(hub: ChatHub, name: str = "Wati Susanti") -> ChatPerson:
    person = hub.person(name)
    [welcome, ask_name] = await person.send("/start")
    assert (welcome.text, ask_name.text) == (text("reg.welcome"), text("reg.ask_full_name"))
    for answer, next_key in [(name, "reg.ask_kim_group"), ("KIM Sumber Makmur", "reg.ask_village"),
                             ("Desa Tempeh Tengah", "reg.ask_district"),
                             ("Kecamatan Tempeh", "reg.ask_phone")]:
        [ask] = await person.send(answer)
        assert ask.text == text(next_key)
    replies = await person.share_phone("+6281234567890")
    assert replies[-1].text == text("reg.ask_office")
    [done] = await person.click("Dinas Komunikasi dan Informatika Kabupaten Lumajang")
    assert done.text.startswith(text("reg.done", name=name, office="")[:20])
    return person


def task(person: ChatPerson, step_no: int) -> Shown:
    """The newest task message of `step_no` that still has buttons."""
    for shown in reversed(person.inbox):
        if shown.buttons and re.search(rf"(Langkah|Step) {step_no}:", shown.text):
            return shown
    raise AssertionError(f"{person.name}: no task for step {step_no}: {person.texts()[-3:]}")


async def act(person: ChatPerson, step_no: int, label: str, note: str | None = None) -> None:
    """Press `label` on the task of `step_no`; write the note asked for, or skip it."""
    pressed = task(person, step_no)
    assert label in pressed.labels(), pressed.labels()
    replies = await person.click(label)
    if replies and replies[-1].text.startswith("Tulis catatan"):
        if note is not None:
            replies = await person.send(note)
        else:
            replies = await person.click(text("button.skip_note"))
    else:
        assert note is None, f"step {step_no}: {label!r} asked for no note"
    assert "✅" in (pressed.text + "".join(r.text for r in replies)), person.texts()[-2:]


async def test_registration_without_a_channel(hub: ChatHub) -> None:
    wati = await member(hub)
    again, help_text = await wati.send("/start")
    assert again.text == text("start.back", name="Wati Susanti")
    assert "/permohonan" in help_text.text
    [bad] = await hub.person("Someone").share_phone("+628111", own=False)
    assert bad.text == text("idle.unregistered")


async def test_a_request_through_all_eight_lumajang_steps(hub: ChatHub) -> None:
    staf = await official(hub, "Sari", "staf")
    kadis = await official(hub, "Dony", "kadis")
    kabid = await official(hub, "Budi", "kabid")
    kasi = await official(hub, "Rina", "kasi")
    wati = await member(hub)

    [choose] = await wati.send("/permohonan")
    assert choose.text == text("req.choose_service")
    await wati.click("Permohonan pelayanan")
    assert choose.buttons == []  # the choice is closed
    await wati.send("Mohon peliputan kegiatan KIM.")
    await wati.send_photo()
    [ack, *_] = await wati.send_file("surat_tugas.pdf", PDF, "application/pdf")
    assert ack.text.startswith(text("req.document_ok", item="Surat Tugas"))
    [receipt] = await wati.click(text("button.send"))
    agenda = re.search(r"\d{3}/SM/DISKOMINFO-LMJ/\d{4}", receipt.text)
    assert agenda, receipt.text
    assert task(staf, 1).files == 2  # the photo and the PDF travel with the first task

    steps = [(staf, 1, "Terima berkas", None), (staf, 2, "Agendakan & teruskan ke Kadin", None),
             (kadis, 3, "Disposisikan", "Tindak lanjuti segera."),
             (staf, 4, "Catat disposisi", None), (staf, 5, "Sampaikan ke Sekdin/Kabid", None),
             (kabid, 6, "Tindak lanjuti", "Laksanakan peliputan."),
             (staf, 7, "Pelayanan selesai", None), (kasi, 8, "Arsipkan & selesai", None)]
    for person, step_no, label, note in steps:
        await act(person, step_no, label, note)

    assert any("telah selesai" in m for m in wati.texts())
    [status] = await wati.send("/status")
    assert "selesai" in status.text
    [sheet] = await wati.send(f"/disposisi {agenda.group(0)}")
    assert "Tindak lanjuti segera." in sheet.text
    assert sheet.text.count("• Langkah") == 9  # submission + 8 actions


async def test_the_kolaka_internal_flow_with_a_return(hub: ChatHub) -> None:
    kadis = await official(hub, "Dony", "kadis", "kolaka")
    kabid = await official(hub, "Budi", "kabid", "kolaka")
    kasi = await official(hub, "Rina", "kasi", "kolaka")
    staf = await official(hub, "Sari", "staf", "kolaka")
    [choose] = await kadis.send("/mulai")
    assert choose.text == text("mulai.choose")
    await kadis.click("Pembentukan KIM")
    await kadis.send("Pembentukan KIM Desa Wundulako")
    await kadis.send("Bentuk KIM di Kecamatan Wundulako.")
    receipt, *_task = await kadis.click(text("button.start_sop"))
    assert receipt.text.startswith("✅ Pembentukan KIM dimulai.")

    await act(kadis, 1, "Perintahkan Kabid", "Segera bentuk KIM.")
    await act(kabid, 2, "Beri petunjuk teknis ke Kasi", "Ikuti juknis 2026.")
    await act(kasi, 3, "Konsep siap, serahkan untuk diketik")
    await act(staf, 4, "Sudah diketik, serahkan ke Kasi")
    await act(kasi, 5, "Paraf & teruskan ke Kabid")
    await act(kabid, 6, "Kembalikan ke Kasi untuk diperbaiki", "Perbaiki dasar hukum.")
    back = task(kasi, 5)  # the same Kasi gets step 5 again, with the note
    assert "Perbaiki dasar hukum." in back.text
    await act(kasi, 5, "Paraf & teruskan ke Kabid")
    await act(kabid, 6, "Paraf & teruskan ke Sekdis")
    [sheet] = await kadis.send("/disposisi " + re.findall(
        r"\d{3}/SM/DISKOMINFO-KLK/\d{4}", receipt.text)[0])
    assert "Perbaiki dasar hukum." in sheet.text


def test_the_core_needs_no_telegram_to_run_a_flow() -> None:
    """The flows above run in a process where `telegram` cannot even be imported."""
    script = (
        "import sys; sys.modules['telegram'] = None\n"
        "import bot.conversations.router, bot.conversations.core, tests.support.chat\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT,  # noqa: S603
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.strip() == "ok", result.stderr


async def test_the_tail_of_a_refused_long_text_is_not_taken_as_the_answer(
        hub: ChatHub, clock: ManualClock) -> None:
    await official(hub, "Sari", "staf")
    wati = await member(hub)
    await wati.send("/permohonan")
    await wati.click("Permohonan pelayanan")
    # A phone app splits a 5,000-character message into 4,096 + 904 characters.
    [refused] = await wati.send("x" * 4096)
    assert refused.text == text("error.too_long", limit=2000)
    [tail] = await wati.send("y" * 904)
    assert tail.text == text("error.tail_ignored")
    clock.advance(timedelta(seconds=1))
    [tail_again] = await wati.send("z" * 300)  # a third part is the same message too
    assert tail_again.text == text("error.tail_ignored")
    clock.advance(timedelta(seconds=5))
    [ask] = await wati.send("Mohon peliputan kegiatan KIM.")
    assert ask.text == text("req.ask_document", item="Print Out Berita", index=1, total=2)
