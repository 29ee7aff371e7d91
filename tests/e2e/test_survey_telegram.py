"""The SKM survey through Telegram: invitation with inline buttons, the nine questions as
buttons that close once answered, the suggestion, and the admin's /skm with its chart."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.clock import to_db
from bot.models import Case, Notification
from bot.survey import invite
from tests.e2e.test_reports_e2e import ask
from tests.e2e.test_survey_flow import ANSWERS
from tests.support.kimbot import KimBot, text


async def test_a_member_answers_the_survey_and_the_admin_reads_the_index(
        kimbot: KimBot) -> None:
    wati = await kimbot.member()
    agenda = await kimbot.submit(wati)
    svc = kimbot.svc
    assert svc is not None
    now = svc.clock.now()
    with svc.db.session() as session:
        case = session.exec(select(Case).where(Case.agenda_number == agenda)).one()
        case.status, case.finished_at = "finished", to_db(now)
        survey = invite(session, case, clock=svc.clock, registry=svc.registry,
                        delay=timedelta(0))
        assert survey is not None
        # The office's hour has come (this test runs on the real clock, maybe on a Sunday).
        survey.invited_at = to_db(now)
        for row in session.exec(select(Notification).where(
                Notification.key == "notify.survey_invite")):
            row.next_attempt_at = to_db(now)
    svc.kick_outbox()
    head = text("notify.survey_invite", agenda=agenda, subject="")[:40]
    await kimbot.api.wait_until(
        lambda: any(m.content.startswith(head) for m in wati.messages), timeout=10,
        message=lambda: kimbot.api.dump_chat(wati.chat_id))
    await wati.click(text("button.survey_start"))
    for number, label in enumerate(ANSWERS, 1):
        last = wati.last_message
        assert last is not None
        assert last.content.startswith(f"📝 Pertanyaan {number} dari 9")
        await wati.click(label)
        assert not last.has_inline_keyboard  # the answered question's buttons are gone
    for label in ("Di bawah 25 tahun", "Perempuan", "S1", "Lainnya"):
        await wati.click(label)
    await wati.send("Layanan cepat, terima kasih.")
    last = wati.last_message
    assert last is not None
    assert last.content == text("survey.thanks")

    [summary, chart] = await ask(kimbot, kimbot.admin, "/skm", 2)
    assert text("skm.index_line", index="94.44", letter="A",
                grade="Sangat Baik") in (summary.text or "")
    assert "Layanan cepat, terima kasih." in (summary.text or "")
    assert chart.photo
    kimbot.assert_callback_data_fits()
