"""Roles marked `bersama` at a step get an information copy when a case enters it.

Lumajang step 5 ("Penyampaian surat masuk sesuai disposisi") is the Staf's, with the Sekdin
and the Kabid marked alongside; step 6 is the Sekdin's/Kabid's with the Staf alongside. The
copy has no action buttons (only the lembar disposisi) and goes neither to the step's own
holders nor to whoever just moved the case there.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.conversations import intents
from bot.conversations.output import Button
from bot.conversations.render import notification
from bot.db import Database
from bot.i18n import Translator
from bot.models import Case, Notification, User
from bot.settings import ROOT
from bot.sop import SopRegistry
from bot.workflow import FileIn, Workflow
from tests.support.factories import (
    LumajangPeople,
    bind_role,
    lumajang_people,
    make_acting,
)

SOP = "lmj-layanan-kim"
WIB = ZoneInfo("Asia/Jakarta")
SURAT = FileIn(kind="document", file_ref="file-1", file_name="surat_tugas.pdf",
               mime="application/pdf", size=1234, label="Surat Tugas")


People = LumajangPeople


@pytest.fixture
def people(db: Database) -> People:
    with db.session() as s:
        return lumajang_people(s, "Plt Kabid")


def submit(db: Database, wf: Workflow, member: User) -> int:
    with db.session() as s:
        case, _ = wf.submit_request(s, member, SOP, subject="Peliputan KIM",
                                    purpose="Mohon peliputan kegiatan KIM", files=[SURAT],
                                    request_key="req-1")
    assert case.id is not None
    return case.id


def press(db: Database, wf: Workflow, case_id: int, user: User, code: str,
          note: str = "") -> None:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        wf.act(s, case_id, user, version=case.version, action_code=code, note=note)


def to_step(db: Database, wf: Workflow, p: People, case_id: int, until: int) -> None:
    """Press a fresh case forward until it sits at `until` (5 at most)."""
    path = [(p.staf_a, "terima", ""), (p.staf_b, "agenda", ""),
            (p.kadis, "dispo", "Kabid mohon ditindaklanjuti"), (p.staf_a, "catat", "")]
    for user, code, note in path[: until - 1]:
        press(db, wf, case_id, user, code, note)


def last_id(db: Database) -> int:
    with db.session() as s:
        row = s.exec(select(Notification).order_by(col(Notification.id).desc())).first()
        return row.id if row is not None and row.id is not None else 0


def copies_after(db: Database, after: int) -> list[Notification]:
    with db.session() as s:
        return list(s.exec(
            select(Notification).where(col(Notification.id) > after)
            .where(Notification.key == "notify.copy").order_by(col(Notification.id))
        ).all())


def load(db: Database, case_id: int) -> Case:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def test_the_bersama_roles_get_a_copy_with_no_action_buttons(
    db: Database, workflow: Workflow, people: People, registry: SopRegistry
) -> None:
    case_id = submit(db, workflow, people.member)
    to_step(db, workflow, people, case_id, 4)
    mark = last_id(db)
    press(db, workflow, case_id, people.staf_a, "catat")  # → step 5, Sekdin and Kabid alongside
    case = load(db, case_id)
    copies = copies_after(db, mark)
    assert [n.recipient_id for n in copies] == [people.sekdis.id, people.kabid.id]
    for row in copies:
        assert (row.case_id, row.case_version, row.actions, row.attachment_ids) == (
            case_id, case.version, [], [])  # the documents come with their own task later
        assert (row.params["agenda"], row.params["step_no"]) == (case.agenda_number, 5)

    tr = Translator(ROOT / "locales")
    for lang, head in (("id", "📋 Tembusan"), ("en", "📋 Copy")):
        text, buttons = notification(tr, lang, registry, copies[0], case)
        assert text.startswith(head)
        assert case.agenda_number in text
        # Only the lembar disposisi: nothing to act on.
        assert buttons == [[Button(tr.text(lang, "button.trail"), intents.Trail(case_id))]]
    text, _ = notification(tr, "id", registry, copies[0], case)
    assert "Sekarang di langkah 5:" in text
    assert "Staf Administrasi" in text  # who handles it now

    # Step 6 is the Sekdin's/Kabid's with the Staf alongside: Staf A gets the copy, not
    # Staf B, who just delivered the letter, nor the holders.
    mark = last_id(db)
    press(db, workflow, case_id, people.staf_b, "sampai")
    assert [n.recipient_id for n in copies_after(db, mark)] == [people.staf_a.id]


def test_a_step_without_bersama_sends_no_copy(
    db: Database, workflow: Workflow, people: People
) -> None:
    mark = last_id(db)
    case_id = submit(db, workflow, people.member)  # step 1: the Staf only
    press(db, workflow, case_id, people.staf_a, "terima")  # step 2: the Staf only
    assert copies_after(db, mark) == []


def test_a_holder_of_the_step_gets_the_task_not_a_copy(
    db: Database, workflow: Workflow, people: People
) -> None:
    with db.session() as s:
        bind_role(s, people.staf_b, "kabid")  # Staf B is also a Kabid
    case_id = submit(db, workflow, people.member)
    to_step(db, workflow, people, case_id, 4)
    mark = last_id(db)
    press(db, workflow, case_id, people.staf_a, "catat")
    assert [n.recipient_id for n in copies_after(db, mark)] == [
        people.sekdis.id, people.kabid.id]


def test_the_plt_gets_the_copy_of_the_absent_official(
    db: Database, workflow: Workflow, people: People, clock: ManualClock
) -> None:
    with db.session() as s:  # the Kabid is away today (Monday 23 November)
        make_acting(s, people.plt, "kabid", datetime(2026, 11, 23, tzinfo=WIB),
                    datetime(2026, 11, 24, tzinfo=WIB))
    case_id = submit(db, workflow, people.member)
    to_step(db, workflow, people, case_id, 4)
    mark = last_id(db)
    press(db, workflow, case_id, people.staf_a, "catat")
    assert [n.recipient_id for n in copies_after(db, mark)] == [people.sekdis.id, people.plt.id]


def test_a_return_to_a_step_informs_its_bersama_roles_again(
    db: Database, workflow: Workflow, people: People
) -> None:
    case_id = submit(db, workflow, people.member)
    to_step(db, workflow, people, case_id, 5)
    press(db, workflow, case_id, people.staf_a, "sampai")  # → step 6
    mark = last_id(db)
    press(db, workflow, case_id, people.kabid, "kembali", "Disposisi salah alamat")  # → 5
    # The Kabid who returned it knows; the Sekdin is told it is back at step 5.
    [copy] = copies_after(db, mark)
    assert (copy.recipient_id, copy.params["step_no"], copy.actions) == (
        people.sekdis.id, 5, [])
