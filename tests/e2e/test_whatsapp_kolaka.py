# ruff: noqa: F811  (the WhatsApp fixtures are imported from tests.support.wa)
"""Seed 001 (Kolaka, Pembentukan KIM) with every official on WhatsApp, and a return."""

from __future__ import annotations

import re

from tests.support.wa import WaKimBot, fakewa, text, wabot  # noqa: F401

SUBJECT = "Pembentukan KIM Desa Wundulako"
PURPOSE = "Bentuk KIM di Kecamatan Wundulako sebelum akhir bulan."
FIX = "Perbaiki dasar hukum."


async def test_kolaka_internal_flow_with_a_return_on_whatsapp(wabot: WaKimBot) -> None:
    people = {role: await wabot.official(name, role, "kolaka") for role, name in [
        ("kadis", "Dony"), ("sekdis", "Sekar"), ("kabid", "Budi"), ("kasi", "Rina"),
        ("staf", "Sari")]}
    kadis, kabid, kasi = people["kadis"], people["kabid"], people["kasi"]

    # The Kepala Dinas starts it with the word "mulai".
    choose = await kadis.send("mulai")
    assert choose[-1].content == text("mulai.choose")
    await kadis.click("Pembentukan KIM")
    await kadis.send(SUBJECT)
    await kadis.send(PURPOSE)
    replies = await kadis.click(text("button.start_sop"))
    receipt = " ".join(m.content for m in replies)
    assert "✅ Pembentukan KIM dimulai." in receipt
    match = re.search(r"(\d{3}/SM/DISKOMINFO-KLK/\d{4})", receipt)
    assert match, receipt

    await wabot.act(kadis, 1, "Perintahkan Kabid", "Laksanakan pembentukan KIM.")
    await wabot.act(kabid, 2, "Beri petunjuk teknis", "Koordinasi dengan camat.")
    await wabot.act(kasi, 3, "Konsep siap", None)
    await wabot.act(people["staf"], 4, "Sudah diketik", None)
    await wabot.act(kasi, 5, "Paraf", "")
    # The Kabid returns it to the Kasi with a note; the Kasi gets step 5 again, with it.
    mark = len(kasi.messages)
    await wabot.act(kabid, 6, "Kembalikan", FIX)
    again = await wabot.task(kasi, 5, after=mark)
    seen = " ".join(m.content for m in kasi.messages[mark:])
    assert FIX in seen, seen
    assert again.choices
    kabid_mark = len(kabid.messages)
    await wabot.act(kasi, 5, "Paraf", "", after=mark)
    await wabot.task(kabid, 6, after=kabid_mark)  # back with the Kabid
