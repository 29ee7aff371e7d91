"""`kimbot demo --channel whatsapp`: the Lumajang SOP with the member on WhatsApp and the
officials on Telegram, one bot against both local fakes (offline)."""

from __future__ import annotations

import asyncio
import re
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

from bot.services import Services, build_services
from bot.settings import Settings
from fakebotapi import FakeBotApi, FakeUser
from fakewa import FakeWaUser, FakeWhatsApp, WaMessage
from handlers.telegram.app import build_application, running
from handlers.telegram.demo import ADMIN_ID, OFFICIALS, PDF, Transcript, _settled
from handlers.web import bound_port, build_web, serving
from handlers.whatsapp.app import WhatsAppBot

MEMBER_WA = "6281234567890"
HOLDERS = {1: "staf", 2: "staf", 3: "kadis", 4: "staf", 5: "staf", 6: "kabid", 7: "staf",
           8: "kasi"}
NOTES = {"dispo": "Tindak lanjuti, koordinasikan dengan Kabid IKP.",
         "lanjut": "Staf agar melaksanakan peliputan sesuai jadwal."}


def _show_wa(messages: list[WaMessage], who: str, quiet: bool) -> None:
    if quiet:
        return
    pad = " " * (len(who) + 5)
    for message in messages:
        body = message.content or f"<{message.kind}>"
        print(f"[{who}] ⇐ " + body.replace("\n", "\n" + pad))
        if message.choices:
            print(pad + "  ".join(f"[{title}]" for _, title in message.choices))


async def _scenario(api: FakeBotApi, fake: FakeWhatsApp, svc: Services, quiet: bool) -> bool:
    out = Transcript(api, quiet)
    admin = FakeUser(api, ADMIN_ID, "Admin", timeout=10)
    people: dict[str, tuple[FakeUser, str]] = {}
    for user_id, name, role in OFFICIALS:
        await admin.send(f"/undang lumajang {role}")
        reply = out.show(admin, "Admin")[-1].text or ""
        code = re.search(r"start=([A-Za-z0-9_-]+)", reply)
        if code is None:
            print("demo: no invitation link in the admin's reply")
            return False
        official = FakeUser(api, user_id, name, timeout=10)
        await official.send(f"/start {code.group(1)}")
        people[role] = (official, f"{name} ({role}, Telegram)")

    member = FakeWaUser(fake, MEMBER_WA, "Wati", timeout=10)
    me = "Wati (anggota KIM, WhatsApp)"

    async def say(action: str, reply: object) -> None:
        if not quiet:
            print(f"\n[{me}] ⇒ {action}")
        _show_wa(await reply, me, quiet)  # type: ignore[misc]

    for text in ["daftar", "Wati Susanti", "KIM Sumber Makmur", "Desa Tempeh Tengah",
                 "Kecamatan Tempeh"]:
        await say(text, member.send(text))
    await say("<pilih Diskominfo Lumajang>", member.click("Lumajang"))
    await say("menu", member.send("menu"))
    await say("<pilih permohonan>", member.click("permohonan"))
    await say("<pilih layanan>", member.click("Permohonan pelayanan"))
    await say("Mohon peliputan pelatihan jurnalistik warga KIM.",
              member.send("Mohon peliputan pelatihan jurnalistik warga KIM."))
    await say("<foto>", member.send_image(caption="Print out berita"))
    await say("<berkas: surat_tugas.pdf>",
              member.send_document("surat_tugas.pdf", PDF, "application/pdf"))
    await say("<tekan Kirim>", member.click("Kirim"))

    seen = len(member.messages)
    for step, role in HOLDERS.items():
        official, who = people[role]

        def has_task(o: FakeUser = official, s: int = step) -> bool:
            return any(f"Langkah {s}:" in (m.text or "") and m.reply_markup for m in o.messages)

        await api.wait_until(has_task, timeout=10.0)
        out.show(official, who)
        task = next(m for m in reversed(official.messages)
                    if f"Langkah {step}:" in (m.text or "") and m.reply_markup)
        label, data = official.buttons(task)[0][0]
        out.say(who, f"<tekan {label}> (langkah {step})")
        await official.click(data=data, message=task)
        action = (data or "").split()[-1]
        if action in NOTES:
            out.say(who, NOTES[action])
            await official.send(NOTES[action])
        elif "Lewati" in str(official.buttons()):
            await official.click("Lewati")
        out.show(official, who)
        await _settled(svc)
        await member.wait_quiet()
        _show_wa(member.messages[seen:], me, quiet)
        seen = len(member.messages)

    def finished() -> bool:
        return any("selesai" in m.content for m in member.messages[-3:])

    await fake.wait_until(finished, timeout=10)
    _show_wa(member.messages[seen:], me, quiet)
    await say("status", member.send("status"))
    ok = finished() or any("selesai" in m.content for m in member.messages[-2:])
    print("\nDEMO " + ("SELESAI: anggota di WhatsApp, pejabat di Telegram; permohonan melewati "
                       "8 langkah SOP Lumajang." if ok else "GAGAL"))
    return ok


def run_demo(*, quiet: bool = False) -> int:
    return 0 if asyncio.run(_play(quiet)) else 1


async def _play(quiet: bool) -> bool:
    async with FakeBotApi() as api, FakeWhatsApp() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo.db"
            settings = Settings(
                TELEGRAM_BOT_TOKEN="123456:DEMO-TOKEN",  # noqa: S106 (fake server accepts any)
                DATABASE_URL=f"sqlite:///{path}",
                KIMBOT_ADMIN_IDS=str(ADMIN_ID),
                KIMBOT_TELEGRAM_BASE_URL=api.base_url,
                KIMBOT_TELEGRAM_FILE_URL=api.base_file_url,
                WHATSAPP_PHONE_ID=fake.phone_id,
                WHATSAPP_TOKEN=fake.token,
                WHATSAPP_APP_SECRET=fake.app_secret,
                WHATSAPP_VERIFY_TOKEN=fake.verify_token,
                KIMBOT_WHATSAPP_GRAPH_URL=fake.root_url,
                KIMBOT_WHATSAPP_PER_CHAT_INTERVAL=0,
                KIMBOT_PER_CHAT_INTERVAL=0,
                KIMBOT_OUTBOX_POLL=0.2,
                KIMBOT_FILE_STORE=f"file://{path.parent / 'files'}",
                _env_file=None,
            )
            svc = build_services(settings)
            try:
                async with AsyncExitStack() as stack:
                    whatsapp = WhatsAppBot(svc)
                    await whatsapp.start()
                    stack.push_async_callback(whatsapp.stop)
                    await stack.enter_async_context(running(build_application(svc)))
                    server = await stack.enter_async_context(
                        serving(build_web(whatsapp), "127.0.0.1:0"))
                    fake.webhook_url = f"http://127.0.0.1:{bound_port(server)}/whatsapp"
                    return await _scenario(api, fake, svc, quiet)
            finally:
                svc.db.dispose()
