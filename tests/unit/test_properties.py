"""Property-based: every dialog state of the core, fed generated input.

Every member of `State` is reached by driving the real flows (registration, a request, an
official's note, the member's correction, a broadcast, /hapus_data, two internal SOPs taken
to the working document and the field team, a finished request's SKM survey, a complaint and
its answer); every dialog row seen on the way is recorded, and a test fails when a state is
not reached. Then Hypothesis puts a person back into one of those states and sends generated
text, commands with numbers and dates, files (real and fake signatures, empty, declared types
that lie) and button data (the buttons the flows really sent, the same with one part changed,
and made-up ones).

For every input: no exception escapes the core, the answer is in the person's language
(English here: no Indonesian-only catalog text, no raw message key), and a refused input
(a KimError the core answered, or a known refusal text) changes nothing: cases, trail,
outbox, people, surveys, complaints, documents, team, other people's dialogs, and the
dialog state itself unless the refusal ends it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.clock import ManualClock
from bot.conversations import router
from bot.conversations.dialog import State
from bot.conversations.events import Command, Contact, Event, File, Inbound, Press, Sender, Text
from bot.conversations.intents import INTENTS, parse
from bot.dialogs import set_dialog
from bot.errors import KimError, Stale
from bot.models import (
    Attachment,
    AuditEntry,
    Broadcast,
    Case,
    Complaint,
    Dialog,
    DocumentVersion,
    Notification,
    RespondentProfile,
    RoleBinding,
    Survey,
    TeamMember,
    User,
)
from bot.services import Services, build_services
from bot.settings import Settings
from tests.support.catalog import CATALOG
from tests.support.chat import JPEG, PDF, ChatHub, ChatPerson

ADMIN = "9000"
ALL_STATES = {state.value for state in State}

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32
EXE = b"MZ\x90\x00" + b"\x00" * 32


@pytest.fixture
def svc(database_url: str, clock: ManualClock) -> Iterator[Services]:
    settings_ = Settings(_env_file=None, DATABASE_URL=database_url,
                         KIMBOT_ADMIN_IDS=ADMIN)
    services = build_services(settings_, clock=clock)
    try:
        yield services
    finally:
        services.db.dispose()


# -- what "in the person's language" and "refused" mean -------------------------------------


def _prefix(template: str) -> str:
    return template.split("{", 1)[0].strip()


REFUSAL = re.compile(r"(^error\.|\.bad_|\.usage$|\.expect|too_long|use_buttons|use_message|"
                     r"pick_one|none_known|not_running|_required$|private_only)")
ENDS_OR_MARKS = re.compile(r"(error\.stale|case_closed|not_allowed|too_long|tail_ignored)")


class Judge:
    """Knows the English refusals and the texts only the Indonesian catalog has."""

    def __init__(self) -> None:
        en, id_ = _read_po("en"), _read_po("id")
        self.refusals = [(k, _prefix(v)) for k, v in en.items()
                         if REFUSAL.search(k) and len(_prefix(v)) >= 8]
        self.indonesian_only = {_prefix(v) for k, v in id_.items()
                                if len(_prefix(v)) >= 12 and _prefix(v) != _prefix(en.get(k, ""))}

    def refusal(self, shown: str) -> str | None:
        for key, prefix in self.refusals:
            if shown.startswith(prefix):
                return key
        return None

    def english(self, shown: str) -> bool:
        if re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)+", shown.strip()):
            return False  # a raw message key
        return not any(shown.startswith(p) for p in self.indonesian_only)


def _read_po(lang: str) -> dict[str, str]:
    from bot.settings import ROOT

    entries: dict[str, str] = {}
    key: str | None = None
    field = ""
    for line in (ROOT / "locales" / lang / "LC_MESSAGES" / "kimbot.po").read_text().splitlines():
        if line.startswith("msgid "):
            key, field = _unquote(line[6:]), "id"
        elif line.startswith("msgstr ") and key is not None:
            entries[key], field = _unquote(line[7:]), "str"
        elif line.startswith('"') and key is not None:
            if field == "id":
                key += _unquote(line)
            elif field == "str":
                entries[key] += _unquote(line)
    return {k: v for k, v in entries.items() if k}


def _unquote(text: str) -> str:
    return text.strip()[1:-1].replace('\\"', '"').replace("\\n", "\n")


# -- the states, reached for real -------------------------------------------------------------


async def _official(hub: ChatHub, name: str, role: str, office: str = "lumajang") -> ChatPerson:
    admin = hub.people.get(ADMIN) or hub.person("Admin", account_id=ADMIN, language="en")
    [invite] = await admin.send(f"/undang {office} {role}")
    code = re.search(r"(?:Kode|Code): ([A-Za-z0-9_-]+)", invite.text)
    assert code, invite.text
    person = hub.person(name, language="en")
    await person.send(f"/start {code.group(1)}")
    return person


class Recorder:
    """Every (person, dialog state, data) seen while the flows run."""

    def __init__(self, hub: ChatHub) -> None:
        self.hub = hub
        self.seen: dict[str, tuple[ChatPerson, dict[str, Any]]] = {}

    def look(self, person: ChatPerson) -> None:
        with self.hub.svc.db.session() as s:
            user = s.exec(select(User).where(User.external_id == person.account_id)).first()
            if user is None:
                return
            row = s.get(Dialog, user.id)
            if row is not None and row.state not in self.seen:
                self.seen[row.state] = (person, dict(row.data))

    async def do(self, person: ChatPerson, how: str, *args: Any) -> None:
        await getattr(person, how)(*args)
        self.look(person)


async def _member(rec: Recorder, name: str) -> ChatPerson:
    """A KIM member of Lumajang, registered in English."""
    person = rec.hub.person(name, language="en")
    await rec.do(person, "send", "/start")
    for answer in (name, "KIM Sumber Makmur", "Desa Tempeh", "Kecamatan Tempeh"):
        await rec.do(person, "send", answer)
    await rec.do(person, "share_phone", "+6281234567890")
    await rec.do(person, "click", "Dinas Komunikasi dan Informatika Kabupaten Lumajang")
    return person


async def _request(rec: Recorder, person: ChatPerson) -> None:
    """The member sends a service request with both documents."""
    await rec.do(person, "send", "/permohonan")
    await rec.do(person, "click", "Service request")
    await rec.do(person, "send", "Coverage of our KIM event.")
    await rec.do(person, "send_photo")
    await rec.do(person, "send_file", "surat.pdf", PDF, "application/pdf")
    await rec.do(person, "click", "✅")


async def _act(rec: Recorder, person: ChatPerson, label: str) -> None:
    """Press an action of the person's task; write a note when one is asked for."""
    await rec.do(person, "click", label)
    if _state_of(rec.hub.svc, person.account_id) == "note":
        await rec.do(person, "send", "Ok.")


async def _reach_states(hub: ChatHub, clock: ManualClock) -> Recorder:
    rec = Recorder(hub)
    staf = await _official(hub, "Sari", "staf")
    wati = await _member(rec, "Wati")
    await _request(rec, wati)
    await rec.do(staf, "click", "Return to requester")
    await rec.do(staf, "send", "Please add the letter.")
    fix = [m for m in wati.inbox if m.buttons][-1]
    await rec.do(wati, "click", fix.labels()[0])
    admin = hub.people[ADMIN]
    await rec.do(admin, "send", "/siaran")
    await rec.do(admin, "send", "Kerja bakti Minggu.")
    await rec.do(admin, "click", admin.last.labels()[0])  # everyone: the preview
    for button, then in (("bc.button_district", None), ("bc.button_role", 0)):
        await rec.do(admin, "send", "/batal")
        await rec.do(admin, "send", "/siaran")
        await rec.do(admin, "send", "Rapat KIM.")
        await rec.do(admin, "click", _prefix(CATALOG.text("en", button)))
        if then is not None:
            await rec.do(admin, "click", admin.last.labels()[then])
    eka = await _member(rec, "Eka")  # the one who may really erase herself while fuzzed
    await rec.do(eka, "send", "/hapus_data")
    await _kolaka(rec)
    await _survey_and_complaint(rec, staf, clock)
    return rec


async def _mulai(rec: Recorder, kadis: ChatPerson) -> None:
    await rec.do(kadis, "send", "/mulai")
    await rec.do(kadis, "click", kadis.last.labels()[0])  # the only SOP: Pembentukan KIM
    await rec.do(kadis, "send", "Pembentukan KIM Desa Baru")
    await rec.do(kadis, "send", "Pembentukan KIM di desa yang belum punya.")
    await rec.do(kadis, "click", _prefix(CATALOG.text("en", "button.start_sop")))


async def _kolaka(rec: Recorder) -> None:
    """Seed 001: one case to step 11 (the field team), a second left at step 3 (a document)."""
    hub = rec.hub
    people = {role: await _official(hub, role.title(), role, "kolaka")
              for role in ("kadis", "sekdis", "kabid", "kasi", "staf")}
    for name in ("Andi", "Citra"):
        await _official(hub, name, "tim", "kolaka")
    await _mulai(rec, people["kadis"])
    for role, label in (("kadis", "Order the division head"),
                        ("kabid", "Brief the section head"),
                        ("kasi", "Draft ready"), ("staf", "Typed, hand to section head"),
                        ("kasi", "Initial & pass to division head"),
                        ("kabid", "Initial & pass to secretary"),
                        ("sekdis", "Initial & pass to the Head"),
                        ("kadis", "Sign the document"), ("kasi", "Receive & hand to staff"),
                        ("staf", "Registered & sent")):
        await _act(rec, people[role], label)
    kasi = people["kasi"]
    await rec.do(kasi, "click", CATALOG.text("en", "button.team"))
    await rec.do(kasi, "click", "▫️ Andi")
    await rec.do(kasi, "click", CATALOG.text("en", "button.team_next"))
    await rec.do(kasi, "click", kasi.last.labels()[0])  # the first working day offered
    await _mulai(rec, people["kadis"])
    await _act(rec, people["kadis"], "Order the division head")
    await _act(rec, people["kabid"], "Brief the section head")
    await rec.do(kasi, "click", CATALOG.text("en", "button.attach_document"))


async def _survey_and_complaint(rec: Recorder, staf: ChatPerson, clock: ManualClock) -> None:
    """A Lumajang request through all eight steps, its SKM survey, then a complaint."""
    hub = rec.hub
    people = {role: await _official(hub, role.title(), role) for role in ("kadis", "kabid", "kasi")}
    people["staf"] = staf
    ani = await _member(rec, "Ani")
    await _request(rec, ani)
    for role, label in (("staf", "Accept documents"), ("staf", "Register & pass to the Head"),
                        ("kadis", "Dispose"), ("staf", "Record disposition"),
                        ("staf", "Deliver to Secretary/Division head"), ("kabid", "Follow up"),
                        ("staf", "Service done"), ("kasi", "Archive & finish")):
        await _act(rec, people[role], label)
    clock.advance(timedelta(hours=1))  # the invitation waits an hour of office time
    hub.deliver()
    await rec.do(ani, "click", CATALOG.text("en", "button.survey_start"))
    for _ in range(30):  # nine elements and the profile, each answered by its first button
        if _state_of(hub.svc, ani.account_id) == "survey_suggestion":
            break
        await rec.do(ani, "click", ani.last.labels()[0])
    await rec.do(ani, "send", "Longer opening hours, please.")
    await rec.do(ani, "send", "/pengaduan")
    await rec.do(ani, "send", "Nobody was at the desk during opening hours.")
    await rec.do(ani, "click", CATALOG.text("en", "button.complaint_send"))
    await rec.do(people["kasi"], "click", CATALOG.text("en", "button.complaint_answer"))


# -- generated input --------------------------------------------------------------------------

ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80)
TRICKY = st.sampled_from(["", " ", "\u200b", "\u202e", "\x00", "\ufeff", "²", "٣", "9" * 30,
                          "0001-01-01", "9999-12-31", "2026-02-30", "-1", "#0", "\ud800",
                          "x" * 5000, "ﬁ", "Ｗａｔｉ", "/", "/start", "/batal"])
WORDS = st.one_of(TRICKY, ANY_TEXT.filter(lambda s: " " not in s and s != ""),
                  st.integers(-10, 10 ** 20).map(str), st.dates().map(str))
VERBS = sorted({cls.VERB for cls in INTENTS} | {"zz", ""})
# Arguments a real button could carry: small ids and versions, the intents' words.
ARG_WORDS = st.one_of(st.integers(0, 40).map(str), st.sampled_from([
    "send", "cancel", "edit", "start", "resume", "pause", "skip", "nosugg", "answer", "file",
    "yes", "no", "u1", "u9", "u10", "x", "all", "20261124", "20260230", "99991231"]))
COMMANDS = sorted({n for spec in router.COMMANDS for n in spec.names})


@st.composite
def events(draw: st.DrawFn, blobs: dict[bytes, str], known: list[str], pressed: list[str],
           ) -> Event:
    kind = draw(st.sampled_from(["text", "text", "command", "file", "press", "press",
                                 "contact"]))
    if kind == "text":
        return Text(draw(st.one_of(TRICKY, ANY_TEXT)))
    if kind == "command":
        name = draw(st.one_of(st.sampled_from(COMMANDS), ANY_TEXT))
        return Command(name, tuple(draw(st.lists(WORDS, max_size=6))))
    if kind == "file":
        data = draw(st.sampled_from(list(blobs)))
        return File(draw(st.sampled_from(["document", "photo", "video"])), "ref-x",
                    draw(st.one_of(TRICKY, ANY_TEXT)),
                    draw(st.sampled_from(["application/pdf", "image/jpeg", "text/plain", ""])),
                    len(data), draw(st.one_of(TRICKY, ANY_TEXT)), None, blobs[data])
    if kind == "contact":
        return Contact(draw(st.one_of(TRICKY, WORDS)), draw(st.booleans()))
    how = draw(st.sampled_from(["sent", "sent", "changed", "made"]))
    if how != "made":  # a button some flow really sent, as is or with one part changed
        parts = draw(st.sampled_from(pressed)).split(" ")
        if how == "changed":
            at = draw(st.integers(0, len(parts) - 1))
            parts[at] = draw(st.one_of(ARG_WORDS, st.sampled_from(known), WORDS))
        raw = " ".join(parts)
        return Press(parse(raw), raw)
    raw = " ".join([draw(st.sampled_from(VERBS)),
                    *draw(st.lists(st.one_of(st.integers(0, 10 ** 12).map(str), WORDS,
                                             ARG_WORDS, st.sampled_from(known)),
                                   max_size=4))])
    return Press(parse(raw), raw)


COUNTED = (AuditEntry, Notification, DocumentVersion, TeamMember, Broadcast, RespondentProfile,
           Attachment, RoleBinding)


def _world(svc: Services, account: str) -> tuple[object, ...]:
    """Everything a turn could change, but the dialog of the person who wrote."""
    with svc.db.session() as s:
        cases = sorted((c.id, c.step_no, c.version, c.status) for c in s.exec(select(Case)))
        counts = [len(s.exec(select(model)).all()) for model in COUNTED]
        people = sorted((u.id, u.external_id, u.full_name, u.phone, u.active, u.language)
                        for u in s.exec(select(User)))
        surveys = sorted((v.id, v.state, str(v.answers)) for v in s.exec(select(Survey)))
        complaints = sorted((c.id, c.status, c.answer) for c in s.exec(select(Complaint)))
        writer = s.exec(select(User).where(User.external_id == account)).one().id
        dialogs = sorted((d.user_id, d.state, str(d.data)) for d in s.exec(select(Dialog))
                         if d.user_id != writer)
    return cases, counts, people, surveys, complaints, dialogs


def _state_of(svc: Services, account: str) -> str | None:
    with svc.db.session() as s:
        user = s.exec(select(User).where(User.external_id == account)).one()
        row = s.get(Dialog, user.id)
        return row.state if row else None


def _known_words(rec: Recorder) -> list[str]:
    """Every value in the recorded dialogs (case ids, versions, nonces, drafts)."""
    found: set[str] = set()
    for _person, data in rec.seen.values():
        for value in data.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str | int) and not isinstance(item, bool):
                    found.add(str(item))
    return sorted(found) or ["0"]


def _buttons_sent(people: list[ChatPerson]) -> list[str]:
    """The data of every button still shown to these people after the flows."""
    return sorted({button.intent.encode() for person in people
                   for shown in person.inbox for row in shown.buttons for button in row})


class Refusals:
    """The key of the KimError a turn raised (the core answers it and rolls the turn back)."""

    def __init__(self, hub: ChatHub, monkeypatch: pytest.MonkeyPatch) -> None:
        self.key: str | None = None
        self.stale = False  # a Stale refusal: the core ends the dialog it came from
        core = hub.core
        monkeypatch.setattr(router, "on_message", self._spy(router.on_message))
        monkeypatch.setattr(core, "_press", self._spy(core._press))
        monkeypatch.setattr(core, "_command", self._spy(core._command))

    def _spy(self, run: Any) -> Any:
        def spied(*args: Any) -> Any:
            try:
                return run(*args)
            except KimError as exc:
                self.key, self.stale = exc.key, isinstance(exc, Stale)
                raise
        return spied


async def test_the_flows_reach_every_dialog_state(svc: Services, clock: ManualClock) -> None:
    rec = await _reach_states(ChatHub(svc), clock)
    assert set(rec.seen) == ALL_STATES, f"states not reached: {ALL_STATES - set(rec.seen)}"


async def test_every_state_takes_any_input(svc: Services, clock: ManualClock,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    hub = ChatHub(svc)
    rec = await _reach_states(hub, clock)
    missing = ALL_STATES - set(rec.seen)
    assert not missing, f"states not reached: {missing}"
    judge = Judge()
    blobs = {data: svc.files.put(data) for data in (PDF, JPEG, PNG, DOC, EXE, b"")}
    keys = count(1)
    states = sorted(rec.seen)
    tally: dict[str, int] = {"refused": 0, "answered": 0}
    fuzzed: set[str] = set()
    spy = Refusals(hub, monkeypatch)
    assert judge.refusals
    assert judge.indonesian_only

    known = _known_words(rec)
    everyone = _buttons_sent(list(hub.people.values()))
    # Mostly the buttons the person in that state was sent (their own, well-formed).
    theirs = {state: _buttons_sent([person]) or everyone
              for state, (person, _) in rec.seen.items()}

    @settings(max_examples=300, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(pair=st.sampled_from(states).flatmap(lambda state: st.tuples(
        st.just(state), events(blobs, known, theirs[state] + everyone[:: 4]))))
    def one(pair: tuple[str, Event]) -> None:
        state, event = pair
        person, data = rec.seen[state]
        with svc.db.session() as s:
            user = s.exec(select(User).where(User.external_id == person.account_id)).first()
            if user is None:  # an earlier example erased this person (/hapus_data, yes)
                reject()
            assert user.id is not None
            set_dialog(s, svc.clock, user.id, state, data)
        before = _world(svc, person.account_id)
        sender = Sender("telegram", person.account_id, person.account_id, person.name, "en")
        spy.key, spy.stale = None, False
        outcome = hub.core.run(Inbound(sender, event, f"prop:{next(keys)}"))
        assert outcome is not None
        fuzzed.add(state)
        shown = [outcome.answer or "", *(m.text for m in outcome.messages)]
        for text in shown:
            assert judge.english(text), (state, event, text)
        said = next((t for t in shown if t), "")
        refused = spy.key or judge.refusal(said)
        tally["refused" if refused else "answered"] += 1
        if refused is not None:
            assert _world(svc, person.account_id) == before, (state, event, said)
            by_text = spy.key is None and isinstance(event, Command)
            if not ENDS_OR_MARKS.search(refused) and not by_text and not spy.stale:
                assert _state_of(svc, person.account_id) == state, (state, event, said)

    for state in states:  # every state at least once, whatever the draw
        one = example(pair=(state, Text("halo")))(one)
    one()
    assert fuzzed == ALL_STATES, f"states never fuzzed: {ALL_STATES - fuzzed}"
    assert tally["refused"] > 50, tally
    assert tally["answered"] > 0, tally
