"""The SKM survey in chat: one question per message, four answers as buttons.

Where the member is lives in the `survey` row (answers so far, state), so a paused survey
resumes with /survei — after a restart too — and an old button of the question being asked
still works. Only the suggestion in words uses the dialog. Admins read the result with
/skm [OFFICE] [PERIOD] [SOP] [xlsx|csv|pdf].
"""

from __future__ import annotations

from functools import partial

from bot import export as exports
from bot import survey as core
from bot import survey_report
from bot.conversations.dialog import DialogData, State
from bot.conversations.events import Text
from bot.conversations.intents import SurveyAct, SurveyAnswer, SurveyProfile
from bot.conversations.output import Button, Buttons, Edit, Message, Outcome, OutFile, clip, say
from bot.conversations.reports import _is_period, _pick_office
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput
from bot.models import Survey
from bot.reports import office_today, parse_period


class SuggestionData(DialogData):
    survey_id: int = 0


def form(t: Turn) -> core.SkmForm:
    return core.load_form(t.svc.settings.sop_dir)


def _controls(t: Turn, survey_id: int) -> list[Button]:
    return [Button(t.t("button.survey_pause"), SurveyAct(survey_id, "pause")),
            Button(t.t("button.survey_skip"), SurveyAct(survey_id, "skip"))]


def ask(t: Turn, survey: Survey) -> Message:
    """The message asking what comes next in this survey (or the thanks when all is done)."""
    assert survey.id is not None
    skm = form(t)
    step = core.next_question(skm, survey, core.profile_of(t.session, survey.user_id))
    if step.element is not None:
        element = step.element
        number = skm.elements.index(element) + 1
        rows: Buttons = [[Button(core.text_in(label, t.lang),
                                 SurveyAnswer(survey.id, element.code, score))]
                         for score, label in enumerate(element.answers, 1)]
        rows.append(_controls(t, survey.id))
        return Message(t.t("survey.question", number=number, total=len(skm.elements),
                           name=core.text_in(element.name, t.lang),
                           question=core.text_in(element.question, t.lang)), rows)
    if step.question is not None:
        question = step.question
        rows = [[Button(core.text_in(c.label, t.lang),
                        SurveyProfile(survey.id, question.code, c.code))]
                for c in question.choices]
        rows.append([Button(core.text_in(skm.prefer_not, t.lang),
                            SurveyProfile(survey.id, question.code, core.PREFER_NOT))])
        rows.append(_controls(t, survey.id))
        return Message(t.t("survey.profile_question",
                           question=core.text_in(question.question, t.lang)), rows)
    if step.kind == "suggestion":
        t.go(State.SURVEY_SUGGESTION, SuggestionData(survey_id=survey.id))
        return Message(t.t("survey.ask_suggestion"),
                       [[Button(t.t("button.survey_no_suggestion"),
                                SurveyAct(survey.id, "nosugg"))],
                        [Button(t.t("button.survey_pause"), SurveyAct(survey.id, "pause"))]])
    return Message(t.t("survey.thanks"))


def _closed_edit(t: Turn, note: str) -> Edit:
    """Take the pressed message's buttons away and say what was chosen under it."""
    return Edit(buttons=[], append=note)


def on_act(t: Turn, intent: SurveyAct) -> Outcome:
    """Start, resume, pause or skip a survey, or finish it without a suggestion."""
    survey = core.survey_of(t.session, intent.survey_id, t.user_id)
    clock = t.svc.clock
    if intent.verb in ("start", "resume"):
        core.set_state(t.session, clock, survey, "answering")
        return Outcome([ask(t, survey)], edit=_closed_edit(t, "▶️"))
    if intent.verb == "pause":
        core.set_state(t.session, clock, survey, "paused")
        _leave_suggestion(t)
        return Outcome([Message(t.t("survey.paused"), [[Button(
            t.t("button.survey_resume"), SurveyAct(intent.survey_id, "resume"))]])],
            edit=_closed_edit(t, "⏸"))
    if intent.verb == "skip":
        core.set_state(t.session, clock, survey, "skipped")
        _leave_suggestion(t)
        return Outcome([Message(t.t("survey.skipped"))], edit=_closed_edit(t, "⏭"))
    # nosugg: only once every question is answered
    if core.next_question(form(t), survey, core.profile_of(
            t.session, survey.user_id)).kind != "suggestion":
        raise BadInput("survey.answered_already")
    core.set_state(t.session, clock, survey, "done", suggestion="")
    _leave_suggestion(t)
    return Outcome([Message(t.t("survey.thanks"))], edit=_closed_edit(t, "✓"))


def _leave_suggestion(t: Turn) -> None:
    if t.state() == State.SURVEY_SUGGESTION:
        t.end()


def on_answer(t: Turn, intent: SurveyAnswer) -> Outcome:
    """One element's score; then the next question."""
    survey = core.survey_of(t.session, intent.survey_id, t.user_id)
    element = core.answer(t.session, t.svc.clock, form(t), survey, intent.element,
                          intent.score)
    chosen = core.text_in(element.answers[intent.score - 1], t.lang)
    return Outcome([ask(t, survey)], edit=_closed_edit(t, f"✓ {chosen}"))


def on_profile(t: Turn, intent: SurveyProfile) -> Outcome:
    """One profile answer; then the next question."""
    survey = core.survey_of(t.session, intent.survey_id, t.user_id)
    skm = form(t)
    question = core.answer_profile(t.session, t.svc.clock, skm, survey, intent.question,
                                   intent.option)
    choice = question.choice(intent.option)
    chosen = core.text_in(choice.label if choice else skm.prefer_not, t.lang)
    return Outcome([ask(t, survey)], edit=_closed_edit(t, f"✓ {chosen}"))


def on_message(t: Turn, event: MessageEvent) -> Outcome:
    """The suggestion in words (optional)."""
    data = t.data(SuggestionData)
    if not isinstance(event, Text):
        raise BadInput("survey.suggestion_text")
    text = event.text.strip()
    if not text:
        raise BadInput("survey.suggestion_text")
    if len(text) > core.MAX_SUGGESTION:
        raise BadInput("error.too_long", limit=core.MAX_SUGGESTION)
    survey = core.survey_of(t.session, data.survey_id, t.user_id)
    core.set_state(t.session, t.svc.clock, survey, "done", suggestion=text)
    t.end()
    return say(t.t("survey.thanks"))


def resume_command(t: Turn, _args: tuple[str, ...]) -> Outcome:
    """Go on with the oldest survey not yet answered (/survei)."""
    surveys = core.open_surveys(t.session, t.svc.clock, t.user_id)
    if not surveys:
        return say(t.t("survey.none"))
    survey = surveys[0]
    core.set_state(t.session, t.svc.clock, survey, "answering")
    return Outcome([ask(t, survey)])


def profile_text(t: Turn) -> str:
    """The respondent profile for /dataku ('' when none was given)."""
    profile = core.profile_of(t.session, t.user_id)
    if profile is None or not profile.answers:
        return ""
    skm = form(t)
    lines = []
    for question in skm.profile:
        code = profile.answers.get(question.code)
        if code is None:
            continue
        choice = question.choice(str(code))
        label = choice.label if choice is not None else skm.prefer_not
        lines.append(f"• {core.text_in(question.question, t.lang)} "
                     f"{core.text_in(label, t.lang)}")
    return t.t("survey.profile_header") + "\n" + "\n".join(lines)


# -- /skm (admins) -------------------------------------------------------------------------

FORMATS = ("xlsx", "csv", "pdf")


def skm_command(t: Turn, args: tuple[str, ...]) -> Outcome:
    """The SKM result of a period (/skm [OFFICE] [PERIOD] [SOP] [xlsx|csv|pdf])."""
    words = [a.lower() for a in args]
    registry = t.svc.registry
    formats = [w for w in words if w in FORMATS]
    periods = [w for w in words if _is_period(w)]
    sops = [w for w in words if w in registry.sops]
    rest = [w for w in words if w not in formats and w not in periods and w not in sops]
    if len(formats) > 1 or len(periods) > 1 or len(sops) > 1:
        raise BadInput("skm.usage", offices=", ".join(t.admin_offices()))
    office = _pick_office(t, rest, "skm.usage")
    sop = sops[0] if sops else ""
    if sop and registry.sops[sop].office != office:
        raise BadInput("skm.sop_elsewhere", sop=sop, office=office)
    now = t.svc.clock.now()
    period = parse_period(periods[0] if periods else "tahun",
                          office_today(registry, office, now))
    skm = form(t)
    report = survey_report.skm_report(t.session, registry, skm, office, period, sop, t.lang)
    stem = f"skm-{office}-{period.first.isoformat()}-{period.last.isoformat()}"
    if formats and formats[0] == "pdf":
        return Outcome([Message(files=[OutFile(
            kind="document", name=f"{stem}.pdf", busy="upload_document",
            caption=t.t("skm.pdf_caption", office=report.office_name),
            make=partial(survey_report.render_pdf, report, t.svc.tr, t.lang, now=now))])])
    if formats:
        writer = exports.to_xlsx if formats[0] == "xlsx" else exports.to_csv
        answers = survey_report.answers_table(report, skm, t.svc.tr, t.lang)
        summary = survey_report.summary_table(report, t.svc.tr, t.lang)
        return Outcome([Message(files=[
            OutFile(kind="document", name=f"{stem}-jawaban.{formats[0]}",
                    busy="upload_document", make=partial(writer, answers),
                    caption=t.t("skm.export_answers", rows=len(answers.rows))),
            OutFile(kind="document", name=f"{stem}-ringkasan.{formats[0]}",
                    busy="upload_document", make=partial(writer, summary),
                    caption=t.t("skm.export_summary"))])])
    messages = [Message(summary_text(t, report))]
    if report.respondents:
        messages.append(Message(files=[OutFile(
            kind="photo", name=f"{stem}.png", busy="upload_photo",
            caption=t.t("skm.chart_caption"),
            make=partial(survey_report.render_chart, report, t.svc.tr, t.lang))]))
    return Outcome(messages)


def summary_text(t: Turn, report: survey_report.SkmReport) -> str:
    """The result as a chat message."""
    parts = [t.t("skm.header", office=report.office_name, period=report.period.label(t.lang),
                 service=report.sop_name or t.t("skm.all_services")),
             t.t("skm.sample_line", respondents=report.respondents,
                 population=report.population, required=report.required)
             + "\n" + t.t("skm.sample_ok" if report.enough else "skm.sample_short")]
    if not report.respondents or report.index is None or report.grade is None:
        parts.append(t.t("skm.no_respondents"))
        return clip("\n\n".join(parts))
    parts.append("\n".join([t.t("skm.nrr_header"), *[
        f"{e.code.upper()} {e.name}: {e.shown}" for e in report.elements]]))
    parts.append(t.t("skm.index_line", index=report.index, letter=report.grade.letter,
                     grade=t.t(report.grade.key)))
    parts.append("\n".join([t.t("skm.weakest_header"), *[
        f"• {e.code.upper()} {e.name}: {e.shown}" for e in report.weakest()]]))
    suggestions = [f"• {s}" for s in report.suggestions[:10]]
    if len(report.suggestions) > 10:
        suggestions.append(t.t("report.more", count=len(report.suggestions) - 10))
    parts.append("\n".join([t.t("skm.suggestions_header", count=len(report.suggestions)),
                            *suggestions]))
    parts.append(t.t("skm.method"))
    return clip("\n\n".join(parts))
