"""A step whose SOP says `catatan: opsional` offers the note (Lumajang step 7, a `teruskan`)."""

from __future__ import annotations

from fakebotapi import FakeUser, SentMessage
from tests.support.catalog import text
from tests.support.kimbot import KimBot

NOTES = {3: "Tindak lanjuti segera.", 6: "Laksanakan peliputan."}  # the required dispositions
SERVICE = "Pelayanan selesai"  # step 7's button: `jenis: teruskan`, `catatan: opsional`


def activity(kimbot: KimBot, step_no: int) -> str:
    assert kimbot.svc is not None
    sop = kimbot.svc.registry.get("lmj-layanan-kim")
    assert sop is not None
    return sop.step(step_no).activity


def done_text(kimbot: KimBot, agenda: str) -> str:
    return "✅ " + text("act.done_moved", action=SERVICE, agenda=agenda, step_no=8,
                        activity=activity(kimbot, 8), roles=text("role.kasi"))


def prompt(replies: list[SentMessage]) -> SentMessage:
    """The note question among the replies (an information copy may arrive meanwhile)."""
    [ask] = [m for m in replies if (m.text or "").startswith("Tulis catatan")]
    return ask


def labels(user: FakeUser, message: SentMessage) -> list[str]:
    return [label for row in user.buttons(message) for label, _ in row]


async def trail_entry(user: FakeUser, agenda: str, step_no: int) -> list[str]:
    """The lines of the lembar disposisi's entry for `step_no` (who did what, the note)."""
    replies = await user.send(f"/disposisi {agenda}")
    [sheet] = [m.text or "" for m in replies if (m.text or "").startswith("LEMBAR DISPOSISI")]
    entry: list[str] = []
    for line in sheet.splitlines():
        if line.startswith("• Langkah "):
            if entry:
                break
            if line.startswith(f"• Langkah {step_no} — "):
                entry.append(line)
        elif entry:
            entry.append(line)
    assert entry, sheet
    return entry


async def to_step_7(kimbot: KimBot) -> tuple[FakeUser, FakeUser, FakeUser, str]:
    """A request pressed through steps 1-6; returns (member, staf, kasi, agenda)."""
    staf = await kimbot.official("Sari", "staf")
    kadis = await kimbot.official("Dony", "kadis")
    kabid = await kimbot.official("Budi", "kabid")
    kasi = await kimbot.official("Rina", "kasi")
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    for step, official in {1: staf, 2: staf, 3: kadis, 4: staf, 5: staf, 6: kabid}.items():
        task = await kimbot.task(official, step)
        _label, data = official.buttons(task)[0][0]
        await official.click(data=data, message=task)
        if step in NOTES:
            await official.send(NOTES[step])
    return wati, staf, kasi, agenda


async def test_an_optional_note_is_offered_and_shows_in_the_trail(kimbot: KimBot) -> None:
    wati, staf, kasi, agenda = await to_step_7(kimbot)
    task = await kimbot.task(staf, 7)

    ask = prompt(await staf.click(SERVICE, message=task))
    assert ask.text == text("act.ask_note_optional", action=SERVICE, agenda=agenda)
    assert labels(staf, ask) == [text("button.skip_note"), text("button.cancel")]
    assert task.has_inline_keyboard  # nothing is applied until the note is written or skipped

    note = "Liputan sudah tayang di portal desa."
    replies = await staf.send(note)
    assert done_text(kimbot, agenda) in [m.text for m in replies]

    # The Kasi's task at step 8 carries the note, and so does the lembar disposisi.
    step8 = await kimbot.task(kasi, 8)
    assert f"Catatan: {note}" in (step8.text or "").splitlines()
    assert (await trail_entry(wati, agenda, 7))[1:] == [
        f"  Sari ({text('role.staf')}) {text('kind.teruskan')}", f"Catatan: {note}"]


async def test_an_optional_note_may_be_skipped(kimbot: KimBot) -> None:
    wati, staf, kasi, agenda = await to_step_7(kimbot)
    task = await kimbot.task(staf, 7)

    ask = prompt(await staf.click(SERVICE, message=task))
    replies = await staf.click(text("button.skip_note"), message=ask)
    assert done_text(kimbot, agenda) in [m.text for m in replies]
    assert not ask.has_inline_keyboard  # the question is closed

    step8 = await kimbot.task(kasi, 8)
    assert not any(line.startswith("Catatan:") for line in (step8.text or "").splitlines())
    assert (await trail_entry(wati, agenda, 7))[1:] == [
        f"  Sari ({text('role.staf')}) {text('kind.teruskan')}"]
