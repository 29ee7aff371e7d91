"""Seed 001 (Kolaka, Pembentukan KIM) through the fake Bot API: people, /mulai, step helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fakebotapi import FakeUser, SentMessage
from tests.support.kimbot import KimBot, text

OFFICE = "kolaka"
SOP = "klk-bentuk-kim"
SUBJECT = "Pembentukan KIM Desa Wundulako"
PURPOSE = "Bentuk KIM di Kecamatan Wundulako sebelum akhir bulan."
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Office:
    """The Kolaka officials of seed 001, each bound by an admin's invitation."""

    kadis: FakeUser
    sekdis: FakeUser
    kabid: FakeUser
    kasi: FakeUser
    staf: FakeUser
    tim: list[FakeUser]


async def kolaka(kimbot: KimBot, tim: tuple[str, ...] = ("Andi", "Citra", "Eko")) -> Office:
    people = {role: await kimbot.official(name, role, OFFICE) for role, name in [
        ("kadis", "Dony"), ("sekdis", "Sekar"), ("kabid", "Budi"), ("kasi", "Rina"),
        ("staf", "Sari")]}
    team = [await kimbot.official(name, "tim", OFFICE) for name in tim]
    return Office(tim=team, **people)


def activity(kimbot: KimBot, step_no: int) -> str:
    assert kimbot.svc is not None
    sop = kimbot.svc.registry.get(SOP)
    assert sop is not None
    return sop.step(step_no).activity


async def start_by_mulai(kimbot: KimBot, kadis: FakeUser, subject: str = SUBJECT,
                         purpose: str = PURPOSE) -> str:
    """The Kepala Dinas starts seed 001 with /mulai; returns the agenda number."""
    [choose] = await kadis.send("/mulai")
    assert choose.text == text("mulai.choose")
    assert [label for row in kadis.buttons(choose) for label, _ in row] == ["Pembentukan KIM"]
    await kadis.click("Pembentukan KIM", message=choose)
    await said(kimbot, kadis, text("mulai.ask_subject", sop="Pembentukan KIM"), choose)
    assert not choose.has_inline_keyboard  # the choice is closed
    [ask] = await kadis.send(subject)
    assert ask.text == text("mulai.ask_purpose")
    [summary] = await kadis.send(purpose)
    assert summary.text == text("mulai.summary", sop="Pembentukan KIM", subject=subject,
                                purpose=purpose, activity=activity(kimbot, 1),
                                roles="Kepala Dinas")
    await kadis.click(text("button.start_sop"), message=summary)
    receipt = (await said(kimbot, kadis, "✅ Pembentukan KIM dimulai.", summary)).text or ""
    match = re.search(r"(\d{3}/SM/DISKOMINFO-KLK/\d{4})", receipt)
    assert match, receipt
    return match.group(1)


async def said(kimbot: KimBot, user: FakeUser, start: str, after: SentMessage | int = 0,
               ) -> SentMessage:
    """Wait for the first message to `user` after `after` whose text starts with `start`."""
    mark = after if isinstance(after, int) else after.message_id

    def found() -> SentMessage | None:
        return next((m for m in user.messages
                     if m.message_id > mark and m.content.startswith(start)), None)

    await kimbot.api.wait_until(lambda: found() is not None, timeout=5,
                                message=lambda: f"{user!r}: never got {start!r}\n"
                                + kimbot.api.dump_chat(user.chat_id))
    message = found()
    assert message is not None
    return message


def is_task(message: SentMessage, step_no: int) -> bool:
    return bool(message.has_inline_keyboard
                and re.search(rf"(Langkah|Step) {step_no}:", message.text or ""))


async def task(kimbot: KimBot, user: FakeUser, step_no: int, after: int = 0) -> SentMessage:
    """Wait for the user's newest task message of a step sent after message id `after`."""
    def found() -> SentMessage | None:
        return next((m for m in reversed(user.messages)
                     if m.message_id > after and is_task(m, step_no)), None)

    await kimbot.api.wait_until(lambda: found() is not None, timeout=5,
                                message=lambda: f"{user!r}: no task for step {step_no}\n"
                                + kimbot.api.dump_chat(user.chat_id))
    message = found()
    assert message is not None
    return message


def last_id(user: FakeUser) -> int:
    return user.messages[-1].message_id if user.messages else 0


async def act(kimbot: KimBot, user: FakeUser, step_no: int, label: str, note: str | None = None,
              *, after: int = 0) -> SentMessage:
    """Press `label` on the user's task of `step_no`; write `note` (or skip) when asked.

    Returns the task message pressed.
    """
    message = await task(kimbot, user, step_no, after)
    mark = last_id(user)
    await user.click(label, message=message)

    def outcome() -> SentMessage | None:
        """The note prompt, or the pressed task once it shows what was done."""
        asked = [m for m in user.messages
                 if m.message_id > mark and m.content.startswith("Tulis catatan")]
        return asked[-1] if asked else (message if "\n\n✅ " in message.content else None)

    await kimbot.api.wait_until(lambda: outcome() is not None, timeout=5,
                                message=lambda: f"{user!r}: {label!r} at step {step_no} did "
                                "nothing\n" + kimbot.api.dump_chat(user.chat_id))
    prompt = outcome()
    assert prompt is not None
    if prompt is message:
        assert note is None, f"step {step_no} {label!r} did not ask for a note"
        return message
    if note:
        await user.send(note)
    else:
        await user.click(text("button.skip_note"), message=prompt)
    await said(kimbot, user, "✅ ", prompt)
    return message


def case_ref(message: SentMessage) -> tuple[int, int]:
    """(case id, version) from a task message's action button."""
    for row in message.buttons():
        for _, data in row:
            match = re.match(r"a (\d+) (\d+) ", data or "")
            if match:
                return int(match.group(1)), int(match.group(2))
    raise AssertionError(f"no action button on {message.describe()}")


async def to_step_11(kimbot: KimBot, office: Office) -> str:
    """Start seed 001 and take it, without returns or documents, to step 11 (the Kasi)."""
    agenda = await start_by_mulai(kimbot, office.kadis)
    path: list[tuple[FakeUser, int, str, str | None]] = [
        (office.kadis, 1, "Perintahkan Kabid", "Laksanakan pembentukan KIM."),
        (office.kabid, 2, "Beri petunjuk teknis", "Koordinasi dengan camat."),
        (office.kasi, 3, "Konsep siap", None),
        (office.staf, 4, "Sudah diketik", None),
        (office.kasi, 5, "Paraf & teruskan ke Kabid", ""),
        (office.kabid, 6, "Paraf & teruskan ke Sekdis", ""),
        (office.sekdis, 7, "Paraf & teruskan ke Kadis", ""),
        (office.kadis, 8, "Tandatangani", None),
        (office.kasi, 9, "Terima & serahkan", None),
        (office.staf, 10, "Terdaftar & terkirim", None),
    ]
    for user, step_no, label, note in path:
        await act(kimbot, user, step_no, label, note)
    await task(kimbot, office.kasi, 11)
    return agenda
