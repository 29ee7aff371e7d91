"""The end of `kimbot demo`: the member answers the SKM survey, the admin reads /skm."""

from __future__ import annotations

from typing import Protocol

from sqlmodel import select

from bot.clock import to_db
from bot.models import Notification, Survey
from bot.services import Services
from fakebotapi import FakeBotApi, FakeUser, SentMessage

# One answer per element (u1..u9) and the profile, as the member presses them.
ANSWERS = ["Sangat sesuai", "Mudah", "Sangat cepat", "Gratis", "Sesuai", "Kompeten",
           "Sangat sopan dan ramah", "Kurang maksimal", "Baik"]
PROFILE = ["25–34 tahun", "Perempuan", "SMA/SMK", "Tidak ingin menjawab"]
SUGGESTION = "Mohon jadwal peliputan diumumkan lebih awal."


class Out(Protocol):
    def say(self, who: str, text: str) -> None: ...
    def show(self, user: FakeUser, who: str) -> list[SentMessage]: ...


async def survey_scenario(api: FakeBotApi, svc: Services, out: Out, member: FakeUser,
                          me: str, admin: FakeUser) -> bool:
    """Bring the invitation's office hour forward, answer it by buttons, show /skm."""
    with svc.db.session() as session:
        survey = session.exec(select(Survey)).first()
        if survey is None:  # no invitation after the request was finished: the demo fails
            return False
        now = to_db(svc.clock.now())
        survey.invited_at = now  # the demo does not wait for the office's next hour
        for row in session.exec(select(Notification).where(
                Notification.key == "notify.survey_invite")):
            row.next_attempt_at = now
    out.say("demo", "(jam kantor berikutnya tiba: undangan survei dikirim)")
    svc.kick_outbox()

    def invited() -> bool:
        last = member.last_message
        return bool(last and "Survei Kepuasan" in (last.text or ""))

    await api.wait_until(invited, timeout=10)
    out.show(member, me)
    for label in ["📝 Isi survei", *ANSWERS, *PROFILE]:
        out.say(me, f"<tekan {label}>")
        await member.click(label)
        out.show(member, me)
    out.say(me, SUGGESTION)
    await member.send(SUGGESTION)
    out.show(member, me)
    out.say("Admin", "/skm")
    before = len(admin.messages)
    await admin.send("/skm")
    await api.wait_until(lambda: len(admin.messages) >= before + 2, timeout=20)
    shown = out.show(admin, "Admin")
    return any("IKM:" in (m.text or "") for m in shown)
