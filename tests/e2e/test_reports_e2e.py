"""/laporan and /ekspor through Telegram: the admin gets numbers, a chart and files.

These run on the real clock: the two requests are made "now", so they fall in this month and
this year of the office (WIB). The second one is made late by moving its stored due time back.
"""

from __future__ import annotations

import csv
import io
import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlmodel import select

from bot.models import Case
from bot.reports import month_period
from fakebotapi import FakeBotApi, FakeUser, SentMessage
from tests.support.kimbot import KimBot, text

SOP_NAME = ("Standart Pelayanan Pengembangan Dan Pemberdayaan Kelompok Informasi Masyarakat "
            "(KIM) Di Tingkat Kecamatan")


def stored(kimbot: KimBot, file_id: str | None) -> bytes:
    assert file_id is not None
    found = kimbot.api.get_file(file_id)
    assert found is not None
    assert found.data is not None
    return found.data


async def ask(kimbot: KimBot, user: FakeUser, command: str, count: int) -> list[SentMessage]:
    """Send a command and wait for `count` messages (a chart or file is drawn in a thread)."""
    before = len(user.messages)
    await user.send(command)
    await kimbot.api.wait_until(lambda: len(user.messages) >= before + count, timeout=20,
                                message=lambda: kimbot.api.dump_chat(user.chat_id))
    await user.wait_quiet()
    return user.messages[before:]


async def two_requests(kimbot: KimBot) -> tuple[str, str]:
    """Sari accepts the first request; the second waits at step 1, long past its due time."""
    sari = await kimbot.official("Sari Wulandari", "staf")
    wati = await kimbot.member("Wati Susanti")
    first = await kimbot.submit(wati)
    await sari.click("Terima berkas", message=await kimbot.task(sari, 1))
    second = await kimbot.submit(wati, "Mohon liputan lomba desa.")
    assert kimbot.svc is not None
    with kimbot.svc.db.session() as session:
        case = session.exec(select(Case).where(Case.agenda_number == second)).one()
        case.due_at = datetime.now(UTC) - timedelta(days=30)
        session.add(case)
    return first, second


async def test_the_admin_gets_the_report_and_its_chart(kimbot: KimBot) -> None:
    first, second = await two_requests(kimbot)
    [summary, photo] = await ask(kimbot, kimbot.admin, "/laporan", 2)
    body = summary.text or ""
    now = datetime.now(ZoneInfo("Asia/Jakarta"))
    month = month_period(now.year, now.month).label("id")
    assert body.startswith(text(
        "report.header", office="Dinas Komunikasi dan Informatika Kabupaten Lumajang",
        period=month, zone="WIB", received=2, finished=0, open=2))
    assert text("report.sop", name=SOP_NAME, received=2, finished=0, open=2) in body
    lines = body.splitlines()
    # Step 1 ended once (Sari, within seconds): on time; step 2 never ended yet.
    [step_one] = [line for line in lines if line.startswith("1. ")]
    assert step_one.endswith("/ 3 menit kerja · 100% (1/1)")
    assert text("report.step_none", step_no=2, standard="5 menit kerja") in lines
    assert text("report.late_header", count=1) in lines
    [late] = [line for line in lines if line.startswith("• ")
              and second in line]
    assert "langkah 1 — Staf Administrasi: Sari Wulandari — terlambat " in late
    assert first not in body.split(text("report.late_header", count=1))[1]
    assert text("report.officials_none") in body

    assert photo.kind == "photo"
    assert photo.caption == text("report.chart_caption", sop=SOP_NAME, period=month)
    png = stored(kimbot, photo.photo)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1200, 700)

    # The office and the period can be named; a period without work has no chart.
    [summary, _] = await ask(kimbot, kimbot.admin, f"/laporan lumajang {now:%Y-%m}", 2)
    header = text("report.late_header", count=1)  # how late goes on growing: compare up to it
    assert (summary.text or "").split(header)[0] == body.split(header)[0]
    [empty] = await kimbot.admin.send("/laporan kolaka 2020-01")
    assert text("report.nothing") in (empty.text or "")
    assert text("report.late_none") in (empty.text or "")

    # English readers get English text and an English chart.
    await kimbot.admin.send("/bahasa")
    await kimbot.admin.click("English")
    [summary, photo] = await ask(kimbot, kimbot.admin, "/report", 2)
    english = month_period(now.year, now.month).label("en")
    assert (summary.text or "").startswith(text(
        "report.header", "en", office="Dinas Komunikasi dan Informatika Kabupaten Lumajang",
        period=english, zone="WIB", received=2, finished=0, open=2))
    assert photo.caption == text("report.chart_caption", "en", sop=SOP_NAME, period=english)


async def test_the_admin_exports_the_agenda_book_and_the_trail(kimbot: KimBot) -> None:
    first, second = await two_requests(kimbot)
    year = datetime.now(ZoneInfo("Asia/Jakarta")).year
    [document] = await ask(kimbot, kimbot.admin, "/ekspor agenda xlsx", 1)
    assert document.kind == "document"
    assert document.media["document"]["file_name"] == f"buku-agenda-lumajang-{year}.xlsx"
    assert document.caption == text(
        "export.caption.agenda", office="Dinas Komunikasi dan Informatika Kabupaten Lumajang",
        year=year, rows=2)
    sheet = load_workbook(io.BytesIO(stored(kimbot, document.document))).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:4] == ["Nomor agenda", "Tanggal diterima (WIB)", "Pengirim", "Kelompok KIM"]
    assert [(r[0], r[2], r[3], r[7]) for r in rows[1:]] == [
        (first, "Wati Susanti", "KIM Sumber Makmur", "Diproses"),
        (second, "Wati Susanti", "KIM Sumber Makmur", "Diproses"),
    ]
    assert isinstance(rows[1][1], datetime)
    assert [r[8] for r in rows[1:]] == ["2. Petugas mencatat maksud dan tujuan pemohon "
                                        "selanjutnya dilakukan pencatatan surat masuk ke dalam "
                                        "buku agenda dan pemberian lembar disposisi",
                                        "1. Anggota KIM menemui petugas"]

    [trail] = await ask(kimbot, kimbot.admin, f"/ekspor jejak csv lumajang {year}", 1)
    assert trail.media["document"]["file_name"] == f"jejak-disposisi-lumajang-{year}.csv"
    data = stored(kimbot, trail.document)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert [(r[0], r[1], r[3], r[5], r[7]) for r in lines[1:]] == [
        (first, "1", "Wati Susanti", "Mengajukan", "1"),
        (first, "1", "Sari Wulandari", "Terima berkas", "2"),
        (second, "1", "Wati Susanti", "Mengajukan", "1"),
    ]


async def test_bad_periods_offices_and_arguments_are_explained(kimbot: KimBot) -> None:
    offices = "lumajang, kolaka"
    cases = {
        "/laporan 2026-13": text("report.bad_period", period="2026-13"),
        "/laporan malang": text("report.unknown_office", office="malang", offices=offices),
        "/laporan lumajang kolaka": text("report.usage", offices=offices),
        "/ekspor": text("export.usage", offices=offices),
        "/ekspor buku xlsx": text("export.usage", offices=offices),
        "/ekspor agenda pdf": text("export.usage", offices=offices),
        "/ekspor agenda csv malang": text("report.unknown_office", office="malang",
                                          offices=offices),
    }
    for command, expected in cases.items():
        [reply] = await kimbot.admin.send(command)
        assert reply.text == expected, command
    assert not kimbot.api.calls_of("sendPhoto")
    assert not kimbot.api.calls_of("sendDocument")


async def test_only_admins_get_reports_and_files(kimbot: KimBot) -> None:
    sari = await kimbot.official("Sari Wulandari", "staf")
    wati = await kimbot.member("Wati Susanti")
    await kimbot.submit(wati)
    await kimbot.task(sari, 1)  # the request's files have reached Sari
    await sari.wait_quiet()
    files = len(kimbot.api.calls_of("sendPhoto")) + len(kimbot.api.calls_of("sendDocument"))
    for person in (sari, wati):
        for command in ("/laporan", "/ekspor agenda xlsx", "/report lumajang minggu",
                        "/export trail csv"):
            [refusal] = await person.send(command)
            assert refusal.text == text("error.admin_only"), command
        await person.expect_silence(0.5)  # no chart or file comes after the refusal
    assert len(kimbot.api.calls_of("sendPhoto")) + len(kimbot.api.calls_of("sendDocument")) == (
        files)


async def test_an_office_admin_sees_only_their_office(api: FakeBotApi, database_url: str) -> None:
    bot = KimBot(api, database_url, KIMBOT_OFFICE_ADMINS="9100:kolaka")
    await bot.start()
    try:
        kolaka_admin = FakeUser(api, 9100, "Admin Kolaka")
        [summary] = await kolaka_admin.send("/laporan 2020-01")  # nothing then: no chart
        assert (summary.text or "").startswith(text(
            "report.header", office="Dinas Komunikasi dan Informatika Kabupaten Kolaka",
            period="Januari 2020", zone="WITA", received=0, finished=0, open=0))
        refused = text("report.office_not_allowed",
                       office="Dinas Komunikasi dan Informatika Kabupaten Lumajang")
        for command in ("/laporan lumajang", "/ekspor agenda csv lumajang 2026"):
            [reply] = await kolaka_admin.send(command)
            assert reply.text == refused, command
        [usage] = await kolaka_admin.send("/ekspor")
        assert usage.text == text("export.usage", offices="kolaka")
        [document] = await ask(bot, kolaka_admin, "/ekspor agenda csv 2026", 1)
        assert document.media["document"]["file_name"] == "buku-agenda-kolaka-2026.csv"
        data = stored(bot, document.document).decode("utf-8-sig")
        assert data == ";".join(["Nomor agenda", "Tanggal diterima (WITA)", "Pengirim",
                                 "Kelompok KIM", "Perihal", "Maksud dan tujuan", "SOP", "Status",
                                 "Langkah saat ini", "Selesai (WITA)"]) + "\r\n"
    finally:
        await bot.stop()
