"""The SKM survey (Survei Kepuasan Masyarakat, PermenPAN-RB No. 14 Tahun 2017).

The questions are data (`sop_steps/skm.yaml`, read and checked here); the index is computed
exactly as the regulation's appendix says; the survey of each finished request lives in the
`survey` table, so a paused survey resumes after a restart. No channel code here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete
from sqlmodel import Session, col, select

from bot.calendar import WorkCalendar
from bot.clock import Clock, from_db, to_db
from bot.errors import NotAllowed, NotFound, Stale
from bot.models import Case, Notification, RespondentProfile, Survey
from bot.outbox import notify
from bot.settings import ROOT
from bot.sop import SopRegistry
from bot.sop.loader import SKM_FILE

LANGS = ("id", "en")
ELEMENTS = 9  # the regulation's nine elements (unsur)
MAX_LABEL = 24  # answers are buttons: WhatsApp list rows are cut at 24 characters
MAX_CHOICES = 7  # profile options per question
MAX_SUGGESTION = 1000
PREFER_NOT = "x"  # profile answer "prefer not to say"
OPEN_STATES = ("invited", "answering", "paused")
DEFAULT_FORM = ROOT / "sop_steps" / SKM_FILE  # the regulation's questionnaire, as shipped
DEFAULT_DELAY = timedelta(hours=1)  # office time between finishing and the invitation


class SkmError(ValueError):
    """A problem in skm.yaml, worded for the office clerk who edits it."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{SKM_FILE}: {message}")


Texts = dict[str, str]  # language -> text


@dataclass(frozen=True)
class Element:
    code: str
    name: Texts
    question: Texts
    answers: tuple[Texts, ...]  # index 0 scores 1 … index 3 scores 4


@dataclass(frozen=True)
class Choice:
    code: str
    label: Texts


@dataclass(frozen=True)
class ProfileQuestion:
    code: str
    question: Texts
    choices: tuple[Choice, ...]

    def choice(self, code: str) -> Choice | None:
        return next((c for c in self.choices if c.code == code), None)


@dataclass(frozen=True)
class SkmForm:
    elements: tuple[Element, ...]
    profile: tuple[ProfileQuestion, ...]
    prefer_not: Texts

    def element(self, code: str) -> Element | None:
        return next((e for e in self.elements if e.code == code), None)

    def question(self, code: str) -> ProfileQuestion | None:
        return next((q for q in self.profile if q.code == code), None)


def text_in(texts: Texts, lang: str) -> str:
    return texts.get(lang) or texts.get("id") or next(iter(texts.values()), "")


# -- reading skm.yaml --------------------------------------------------------------------


def _texts(value: Any, where: str, limit: int | None = None) -> Texts:
    if not isinstance(value, dict):
        raise SkmError(f"{where}: tulis teksnya per bahasa, mis. {{id: …, en: …}}")
    out: Texts = {}
    for lang in LANGS:
        text = " ".join(str(value.get(lang) or "").split())
        if not text:
            raise SkmError(f"{where}: teks bahasa '{lang}' kosong")
        if limit is not None and len(text) > limit:
            raise SkmError(f"{where}: '{text}' lebih dari {limit} huruf (jadi tombol); "
                           "singkatkan")
        out[lang] = text
    return out


def _element(raw: Any, index: int) -> Element:
    where = f"unsur ke-{index}"
    if not isinstance(raw, dict):
        raise SkmError(f"{where}: harus berupa pemetaan (kode, nama, pertanyaan, jawaban)")
    code = f"u{index}"
    if str(raw.get("kode", "")) != code:
        raise SkmError(f"{where}: kode harus {code!r} (urutan unsur peraturan), "
                       f"bukan {raw.get('kode')!r}")
    answers = raw.get("jawaban")
    if not isinstance(answers, list) or len(answers) != 4:
        raise SkmError(f"{where}: harus ada tepat 4 jawaban (skor 1 sampai 4, urut)")
    return Element(
        code=code, name=_texts(raw.get("nama"), f"{where}: nama"),
        question=_texts(raw.get("pertanyaan"), f"{where}: pertanyaan"),
        answers=tuple(_texts(a, f"{where}: jawaban {n}", MAX_LABEL)
                      for n, a in enumerate(answers, 1)))


def _profile(raw: Any, index: int) -> ProfileQuestion:
    where = f"profil ke-{index}"
    if not isinstance(raw, dict):
        raise SkmError(f"{where}: harus berupa pemetaan (kode, pertanyaan, pilihan)")
    code = str(raw.get("kode", ""))
    if not code.isascii() or not code.isidentifier() or len(code) > 12:
        raise SkmError(f"{where}: kode {code!r} tidak sah (huruf kecil, paling banyak 12)")
    options = raw.get("pilihan")
    # With "prefer not to say", pause and skip: at most 10 rows (a WhatsApp list's limit).
    if not isinstance(options, list) or not 2 <= len(options) <= MAX_CHOICES:
        raise SkmError(f"{where}: tulis 2 sampai {MAX_CHOICES} pilihan")
    choices: list[Choice] = []
    for n, option in enumerate(options, 1):
        if not isinstance(option, dict):
            raise SkmError(f"{where}: pilihan {n} harus berupa pemetaan (kode, id, en)")
        ocode = str(option.get("kode", ""))
        if (not ocode.isascii() or not ocode.isidentifier() or len(ocode) > 12
                or ocode == PREFER_NOT or ocode in {c.code for c in choices}):
            raise SkmError(f"{where}: kode pilihan {ocode!r} tidak sah atau ganda")
        choices.append(Choice(ocode, _texts(option, f"{where}: pilihan {n}", MAX_LABEL)))
    return ProfileQuestion(code, _texts(raw.get("pertanyaan"), f"{where}: pertanyaan"),
                           tuple(choices))


def parse_form(data: Any) -> SkmForm:
    """Check skm.yaml's content; every error says where and how to fix it."""
    if not isinstance(data, dict):
        raise SkmError("harus berisi 'unsur', 'profil' dan 'tidak_menjawab'")
    elements = data.get("unsur")
    if not isinstance(elements, list) or len(elements) != ELEMENTS:
        raise SkmError(f"'unsur' harus berisi tepat {ELEMENTS} unsur SKM "
                       "(PermenPAN-RB 14/2017), berurutan u1 sampai u9")
    profile = data.get("profil")
    if not isinstance(profile, list) or not profile:
        raise SkmError("'profil' harus berisi pertanyaan profil responden")
    questions = tuple(_profile(q, n) for n, q in enumerate(profile, 1))
    if len({q.code for q in questions}) != len(questions):
        raise SkmError("kode pertanyaan profil ada yang ganda")
    return SkmForm(
        elements=tuple(_element(e, n) for n, e in enumerate(elements, 1)),
        profile=questions,
        prefer_not=_texts(data.get("tidak_menjawab"), "tidak_menjawab", MAX_LABEL))


def read_form(path: Path) -> SkmForm:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SkmError(f"tidak ada di {path.parent}") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SkmError(f"tidak dapat dibaca sebagai YAML ({exc})") from exc
    return parse_form(data)


@functools.lru_cache(maxsize=8)
def _cached(path: Path, _mtime: float) -> SkmForm:
    return read_form(path)


def load_form(sop_dir: Path) -> SkmForm:
    """The form beside the SOPs (re-read when the file changes); a folder without one uses
    the regulation's wording shipped with the bot."""
    path = sop_dir / SKM_FILE
    if not path.is_file():
        path = DEFAULT_FORM
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise SkmError(f"tidak ada di {sop_dir}") from exc
    return _cached(path, mtime)


# -- the index (Lampiran PermenPAN-RB 14/2017) --------------------------------------------


@dataclass(frozen=True)
class Grade:
    letter: str  # A B C D
    key: str  # catalog key of its name (Sangat Baik …)


# The regulation's table on the 25-100 scale, graded on the IKM rounded to two decimals.
GRADES: tuple[tuple[Decimal, Grade], ...] = (
    (Decimal("88.31"), Grade("A", "skm.grade.a")),
    (Decimal("76.61"), Grade("B", "skm.grade.b")),
    (Decimal("65.00"), Grade("C", "skm.grade.c")),
    (Decimal("25.00"), Grade("D", "skm.grade.d")),
)


def round2(value: Fraction) -> Decimal:
    """Exactly half-up to two decimals (no float anywhere)."""
    hundredths = (value * 100 + Fraction(1, 2)).__floor__()
    return Decimal(hundredths).scaleb(-2)  # 9444 -> 94.44, 400 -> 4.00


def nrr(scores: Sequence[int]) -> Fraction:
    """Nilai rata-rata of one element: the sum of its scores over the number of answers."""
    if not scores:
        raise ValueError("no scores")
    return Fraction(sum(scores), len(scores))


def ikm(nrrs: Sequence[Fraction]) -> Fraction:
    """IKM = (sum of NRR x 1/9) x 25, from the unrounded NRRs (exact)."""
    if len(nrrs) != ELEMENTS:
        raise ValueError(f"need {ELEMENTS} NRR values")
    return sum((n * Fraction(1, ELEMENTS) for n in nrrs), Fraction(0)) * 25


def grade(index: Decimal) -> Grade:
    """The regulation's grade of an IKM already rounded to two decimals."""
    for floor, found in GRADES:
        if index >= floor:
            return found
    return GRADES[-1][1]


# Sample size: Krejcie & Morgan (1970), "Determining Sample Size for Research Activities",
# as reproduced in the appendix of PermenPAN-RB No. 14 Tahun 2017 (population N -> sample S).
KREJCIE_MORGAN: tuple[tuple[int, int], ...] = (
    (10, 10), (15, 14), (20, 19), (25, 24), (30, 28), (35, 32), (40, 36), (45, 40),
    (50, 44), (55, 48), (60, 52), (65, 56), (70, 59), (75, 63), (80, 66), (85, 70),
    (90, 73), (95, 76), (100, 80), (110, 86), (120, 92), (130, 97), (140, 103), (150, 108),
    (160, 113), (170, 118), (180, 123), (190, 127), (200, 132), (210, 136), (220, 140),
    (230, 144), (240, 148), (250, 152), (260, 155), (270, 159), (280, 162), (290, 165),
    (300, 169), (320, 175), (340, 181), (360, 186), (380, 191), (400, 196), (420, 201),
    (440, 205), (460, 210), (480, 214), (500, 217), (550, 226), (600, 234), (650, 242),
    (700, 248), (750, 254), (800, 260), (850, 265), (900, 269), (950, 274), (1000, 278),
    (1100, 285), (1200, 291), (1300, 297), (1400, 302), (1500, 306), (1600, 310),
    (1700, 313), (1800, 317), (1900, 320), (2000, 322), (2200, 327), (2400, 331),
    (2600, 335), (2800, 338), (3000, 341), (3500, 346), (4000, 351), (4500, 354),
    (5000, 357), (6000, 361), (7000, 364), (8000, 367), (9000, 368), (10000, 370),
    (15000, 375), (20000, 377), (30000, 379), (40000, 380), (50000, 381), (75000, 382),
    (100000, 384),
)


def required_sample(population: int) -> int:
    """The minimum number of respondents for a population (the next row up; below 10: all)."""
    if population <= 0:
        return 0
    if population < KREJCIE_MORGAN[0][0]:
        return population
    for size, sample in KREJCIE_MORGAN:
        if population <= size:
            return sample
    return KREJCIE_MORGAN[-1][1]


# -- the survey of a request ---------------------------------------------------------------


def invite(session: Session, case: Case, *, clock: Clock, registry: SopRegistry,
           delay: timedelta = DEFAULT_DELAY) -> Survey | None:
    """Invite the requester of a finished case, once, within the office's hours.

    The invitation is an outbox row due at that moment (`next_attempt_at`): the delivery
    loop sends it then, and a restart loses nothing. None when there is nobody to ask or the
    case already has its survey.
    """
    if case.requester_id is None or case.id is None:
        return None
    exists = session.exec(select(Survey.id).where(Survey.case_id == case.id)).first()
    if exists is not None:
        return None
    now = clock.now()
    calendar = WorkCalendar.for_office(registry.office(case.office))
    at = calendar.add_office_time(now, delay)
    survey = Survey(case_id=case.id, user_id=case.requester_id, office=case.office,
                    sop_code=case.sop_code, invited_at=to_db(at), created_at=to_db(now),
                    updated_at=to_db(now))
    session.add(survey)
    session.flush()
    row = notify(session, clock, case.requester_id, "notify.survey_invite",
                 agenda=case.agenda_number, subject=case.subject, office=case.office,
                 buttons=[["button.survey_start", f"sv {survey.id} start"],
                          ["button.survey_skip", f"sv {survey.id} skip"]])
    row.next_attempt_at = to_db(at)
    return survey


def survey_of(session: Session, survey_id: int, user_id: int) -> Survey:
    """The member's own survey (someone else's is refused as forged)."""
    survey = session.exec(select(Survey).where(Survey.id == survey_id)
                          .with_for_update()).first()
    if survey is None:
        raise NotFound()
    if survey.user_id != user_id:
        raise NotAllowed()
    return survey


def open_surveys(session: Session, clock: Clock, user_id: int) -> list[Survey]:
    """The member's surveys that can be answered now, oldest first."""
    return list(session.exec(
        select(Survey).where(Survey.user_id == user_id)
        .where(col(Survey.state).in_(OPEN_STATES))
        .where(Survey.invited_at <= to_db(clock.now()))
        .order_by(col(Survey.id))))


def profile_of(session: Session, user_id: int) -> RespondentProfile | None:
    return session.get(RespondentProfile, user_id)


@dataclass(frozen=True)
class Next:
    """What to ask next: an element, a profile question, the suggestion, or nothing."""

    kind: str  # element | profile | suggestion | done
    element: Element | None = None
    question: ProfileQuestion | None = None


def next_question(form: SkmForm, survey: Survey, profile: RespondentProfile | None) -> Next:
    for element in form.elements:
        if element.code not in survey.answers:
            return Next("element", element=element)
    if profile is None or profile.completed_at is None:
        answered = profile.answers if profile is not None else {}
        for question in form.profile:
            if question.code not in answered:
                return Next("profile", question=question)
    if survey.state in OPEN_STATES:
        return Next("suggestion")
    return Next("done")


def _check_open(survey: Survey) -> None:
    if survey.state not in OPEN_STATES:
        raise Stale("survey.closed")


def answer(session: Session, clock: Clock, form: SkmForm, survey: Survey, element: str,
           score: int) -> Element:
    """Record one element's score (only the question being asked counts)."""
    _check_open(survey)
    found = form.element(element)
    if found is None or not 1 <= score <= 4:
        raise NotAllowed()
    asked = next_question(form, survey, profile_of(session, survey.user_id))
    if asked.element is None or asked.element.code != element:
        raise Stale("survey.answered_already")
    now = to_db(clock.now())
    survey.answers = {**survey.answers, element: score}
    survey.state = "answering"
    if all(e.code in survey.answers for e in form.elements):
        survey.completed_at = now
    survey.updated_at = now
    session.add(survey)
    return found


def answer_profile(session: Session, clock: Clock, form: SkmForm, survey: Survey,
                   code: str, option: str) -> ProfileQuestion:
    """Record one profile answer ("x": prefer not to say)."""
    _check_open(survey)
    question = form.question(code)
    if question is None or (option != PREFER_NOT and question.choice(option) is None):
        raise NotAllowed()
    profile = profile_of(session, survey.user_id)
    asked = next_question(form, survey, profile)
    if asked.question is None or asked.question.code != code:
        raise Stale("survey.answered_already")
    now = to_db(clock.now())
    if profile is None:
        profile = RespondentProfile(user_id=survey.user_id, updated_at=now)
    profile.answers = {**profile.answers, code: option}
    if all(q.code in profile.answers for q in form.profile):
        profile.completed_at = now
    profile.updated_at = now
    session.add(profile)
    survey.state, survey.updated_at = "answering", now
    session.add(survey)
    return question


def set_state(session: Session, clock: Clock, survey: Survey, state: str,
              suggestion: str | None = None) -> None:
    """Start, pause, skip or finish (with the suggestion, if any)."""
    _check_open(survey)
    if suggestion is not None:
        survey.suggestion = suggestion.strip()[:MAX_SUGGESTION]
    survey.state, survey.updated_at = state, to_db(clock.now())
    session.add(survey)


def erase_member_survey_data(session: Session, user_id: int) -> None:
    """UU PDP: drop the profile and the words written; the scores stay as anonymous counts.

    A survey still open is closed (skipped), and its invitation not yet sent is dropped with
    the member's other pending notifications by the caller.
    """
    session.execute(delete(RespondentProfile).where(
        col(RespondentProfile.user_id) == user_id))
    for survey in session.exec(select(Survey).where(Survey.user_id == user_id)):
        survey.suggestion = ""
        if survey.state in OPEN_STATES:
            survey.state = "skipped"
        session.add(survey)


def invitation_pending(session: Session, survey: Survey) -> datetime | None:
    """When a survey's invitation is still due to go out (None when sent or gone)."""
    for row in session.exec(select(Notification).where(
            Notification.recipient_id == survey.user_id)
            .where(Notification.key == "notify.survey_invite")
            .where(Notification.status == "pending")):
        if any(str(b[1]).startswith(f"sv {survey.id} ") for b in row.params.get("buttons", [])):
            return from_db(row.next_attempt_at)
    return None
