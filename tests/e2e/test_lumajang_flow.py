"""A member's request through all 8 steps of the Lumajang SOP, as each party sees it."""

from __future__ import annotations

from tests.support.kimbot import KimBot

NOTES = {"dispo": "Tindak lanjuti segera.", "lanjut": "Laksanakan peliputan."}


async def test_full_request_through_all_eight_steps(kimbot: KimBot) -> None:
    staf = await kimbot.official("Sari", "staf")
    kadis = await kimbot.official("Dony", "kadis")
    kabid = await kimbot.official("Budi", "kabid")
    kasi = await kimbot.official("Rina", "kasi")
    member = await kimbot.member()
    agenda = await kimbot.submit(member)
    assert agenda.startswith("001/SM/DISKOMINFO-LMJ/")

    holders = {1: staf, 2: staf, 3: kadis, 4: staf, 5: staf, 6: kabid, 7: staf, 8: kasi}
    for step, official in holders.items():
        task = await kimbot.task(official, step)
        assert agenda in (task.text or "")
        _label, data = official.buttons(task)[0][0]
        await official.click(data=data, message=task)
        action = (data or "").split()[-1]
        if action in NOTES:
            await official.send(NOTES[action])
        elif any("Lewati" in text for row in official.buttons() for text, _ in row):
            await official.click("Lewati")

    def finished() -> bool:
        return any("telah selesai" in (m.text or "") for m in member.messages)

    await kimbot.api.wait_until(finished, timeout=5)
    await member.send("/status")
    assert "selesai" in (member.last_message.text or "")

    await member.send(f"/disposisi {agenda}")
    sheet = member.last_message.text or ""
    assert "LEMBAR DISPOSISI" in sheet
    assert "Tindak lanjuti segera." in sheet
    assert sheet.count("• Langkah") == 9  # submission + 8 actions
