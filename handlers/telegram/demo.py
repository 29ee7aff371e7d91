"""`kimbot demo`: the real bot against a local fake Bot API, one request through all steps."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from bot.models import Notification
from bot.services import Services, build_services
from bot.settings import Settings
from fakebotapi import FakeBotApi, FakeUser, SentMessage
from handlers.telegram.app import build_application, running
from handlers.telegram.demo_survey import survey_scenario

ADMIN_ID = 9000
SOP_CODE = "lmj-layanan-kim"
# People of the Lumajang office, one per role of seed 004.
OFFICIALS = [
    (9101, "Sari", "staf"),
    (9102, "Dony", "kadis"),
    (9103, "Budi", "kabid"),
    (9104, "Rina", "kasi"),
]
MEMBER_ID = 9501
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Transcript:
    """Prints each party's view: what they send (→) and what the bot shows them (←)."""

    def __init__(self, api: FakeBotApi, quiet: bool) -> None:
        self.api = api
        self.quiet = quiet
        self.seen: dict[int, int] = {}

    def say(self, who: str, text: str) -> None:
        if not self.quiet:
            print(f"\n[{who}] → {text}")

    def show_all(self, parties: list[tuple[FakeUser, str]]) -> None:
        """What reached each party since it was last shown, party by party."""
        for user, who in parties:
            self.show(user, who)

    def show(self, user: FakeUser, who: str) -> list[SentMessage]:
        messages = self.api.messages(user.chat_id)
        new = messages[self.seen.get(user.chat_id, 0):]
        self.seen[user.chat_id] = len(messages)
        for message in new:
            if self.quiet:
                continue
            body = message.text or message.caption or f"<{message.kind}>"
            print(f"[{who}] ← " + body.replace("\n", "\n" + " " * (len(who) + 5)))
            for row in (message.reply_markup or {}).get("inline_keyboard", []):
                print(" " * (len(who) + 5) + "  ".join(f"[{b['text']}]" for b in row))
        return new


async def _wait_for_buttons(api: FakeBotApi, user: FakeUser) -> None:
    def has_task() -> bool:
        last = user.last_message
        return bool(last and (last.reply_markup or {}).get("inline_keyboard"))

    await api.wait_until(has_task, timeout=10.0)


async def _settled(svc: Services) -> None:
    """Wait until every queued notification has gone out (the transcript stays in order)."""
    for _ in range(200):
        with svc.db.session() as session:
            waiting = session.exec(select(func.count()).select_from(Notification).where(
                Notification.status.in_(("pending", "sending")))).one()  # type: ignore[attr-defined]
        if not waiting:
            return
        await asyncio.sleep(0.05)


async def _scenario(api: FakeBotApi, svc: Services, out: Transcript) -> bool:
    admin = FakeUser(api, ADMIN_ID, "Admin", timeout=10)
    people: dict[str, tuple[FakeUser, str]] = {}
    for user_id, name, role in OFFICIALS:
        out.say("Admin", f"/undang lumajang {role}")
        await admin.send(f"/undang lumajang {role}")
        reply = out.show(admin, "Admin")[-1].text or ""
        code = re.search(r"start=([A-Za-z0-9_-]+)", reply)
        if code is None:
            print("demo: no invitation link in the admin's reply")
            return False
        official = FakeUser(api, user_id, name, timeout=10)
        who = f"{name} ({role})"
        out.say(who, f"/start {code.group(1)}")
        await official.send(f"/start {code.group(1)}")
        out.show(official, who)
        people[role] = (official, who)

    member = FakeUser(api, MEMBER_ID, "Wati", timeout=10)
    me = "Wati (anggota KIM)"
    for text in ["/start", "Wati Susanti", "KIM Sumber Makmur", "Desa Tempeh Tengah",
                 "Kecamatan Tempeh"]:
        out.say(me, text)
        await member.send(text)
        out.show(member, me)
    out.say(me, "<bagikan kontak +6281234567890>")
    await member.share_contact("+6281234567890")
    out.show(member, me)
    out.say(me, "<pilih Diskominfo Lumajang>")
    await member.click("Lumajang")
    out.show(member, me)
    out.say(me, "/permohonan")
    await member.send("/permohonan")
    out.show(member, me)
    out.say(me, "<pilih layanan>")
    await member.click("Permohonan pelayanan")
    out.show(member, me)
    purpose = "Mohon peliputan kegiatan pelatihan jurnalistik warga KIM pada 28 November 2026."
    out.say(me, purpose)
    await member.send(purpose)
    out.show(member, me)
    out.say(me, "<foto: print out berita>")
    await member.send_photo(caption="Print out berita")
    out.show(member, me)
    out.say(me, "<berkas: surat_tugas.pdf>")
    await member.send_document("surat_tugas.pdf", PDF, "application/pdf")
    out.show(member, me)
    out.say(me, "<tekan Kirim>")
    await member.click("Kirim")
    out.show(member, me)

    notes = {"dispo": "Tindak lanjuti, koordinasikan dengan Kabid IKP.",
             "lanjut": "Staf agar melaksanakan peliputan sesuai jadwal."}
    holders_by_step = {1: "staf", 2: "staf", 3: "kadis", 4: "staf", 5: "staf", 6: "kabid",
                       7: "staf", 8: "kasi"}
    for step, role in holders_by_step.items():
        official, who = people[role]
        await _wait_for_buttons(api, official)
        out.show(official, who)
        buttons = official.buttons()
        label, data = buttons[0][0]
        out.say(who, f"<tekan {label}> (langkah {step})")
        await official.click(data=data)
        out.show(official, who)
        action = (data or "").split()[-1]
        if action in notes:
            out.say(who, notes[action])
            await official.send(notes[action])
            out.show(official, who)
        elif "Lewati" in str(official.buttons()):
            out.say(who, "<Lewati catatan>")
            await official.click("Lewati")
            out.show(official, who)
        await _settled(svc)
        out.show_all([(member, me), *(p for r, p in people.items() if r != role)])

    def finished() -> bool:
        return any("selesai" in (m.text or "") for m in api.messages(member.chat_id)[-3:])

    await api.wait_until(finished, timeout=10)
    out.show(member, me)
    out.say(me, "/status")
    await member.send("/status")
    out.show(member, me)
    ok = finished() and await survey_scenario(api, svc, out, member, me, admin)
    print("\nDEMO " + ("SELESAI: permohonan melewati 8 langkah SOP Lumajang dan diarsipkan; "
                       "anggota mengisi survei kepuasan (SKM)." if ok else "GAGAL"))
    return ok


def run_demo(*, quiet: bool = False, db: str | None = None) -> int:
    """Play the demo; with `db` the database (and its files) stay for `kimbot pdf`/`export`."""
    if db is not None and Path(db).exists():
        print(f"demo: {db} sudah ada / already exists; pilih berkas baru / choose a new file")
        return 2
    ok = asyncio.run(_play(quiet, db))
    if ok and db is not None:
        url = f"sqlite:///{Path(db).resolve()}"
        print(f"\nBasis data disimpan / database kept: {db}\n"
              f"  DATABASE_URL={url} kimbot pdf 001/SM/DISKOMINFO-LMJ/<tahun>\n"
              f"  DATABASE_URL={url} kimbot export agenda --office lumajang")
    return 0 if ok else 1


async def _play(quiet: bool, db: str | None) -> bool:
    kept = Path(db).resolve() if db is not None else None  # noqa: ASYNC240 (before the loop is busy)
    async with FakeBotApi() as api:
        with tempfile.TemporaryDirectory() as tmp:
            path = kept or Path(tmp) / "demo.db"
            settings = Settings(
                TELEGRAM_BOT_TOKEN="123456:DEMO-TOKEN",  # noqa: S106 (fake server accepts any)
                DATABASE_URL=f"sqlite:///{path}",
                KIMBOT_ADMIN_IDS=str(ADMIN_ID),
                KIMBOT_TELEGRAM_BASE_URL=api.base_url,
                KIMBOT_TELEGRAM_FILE_URL=api.base_file_url,
                KIMBOT_PER_CHAT_INTERVAL=0,
                KIMBOT_OUTBOX_POLL=0.2,
                KIMBOT_FILE_STORE=f"file://{path.parent / (path.name + '.files')}",
                _env_file=None,
            )
            svc = build_services(settings)
            try:
                async with running(build_application(svc)):
                    return await _scenario(api, svc, Transcript(api, quiet))
            finally:
                svc.db.dispose()
