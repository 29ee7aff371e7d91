"""bot.broadcast: audiences, idempotent start, exclusive claims, crash recovery, cancel."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from bot import broadcast as bc
from bot.broadcast import Audience
from bot.clock import ManualClock
from bot.db import Database
from bot.errors import BadInput
from bot.models import Broadcast, BroadcastDelivery, RoleBinding, User
from tests.support.factories import DEFAULT_AT, bind_role, make_member, make_official, make_user


@dataclass
class People:
    admin: int
    tempeh: list[int]  # members, Kecamatan Tempeh, KIM Sumber Rejeki (lumajang)
    pasirian: list[int]  # members, Kecamatan Pasirian, KIM Jaya (lumajang)
    kolaka: list[int]  # members of the Kolaka office
    opted_out: int  # a Tempeh member who sent /berhenti
    erased: int  # a Tempeh member whose data was erased
    inactive: int  # a deactivated Tempeh member
    staf_lmj: list[int]
    staf_klk: int
    kadis_lmj: int
    kasi_opted_out: int


def _member(session: Session, name: str, *, district: str = "Kecamatan Tempeh",
            group: str = "KIM Sumber Rejeki", office: str = "lumajang") -> User:
    user = make_member(session, name, office=office)
    user.district, user.kim_group = district, group
    session.add(user)
    session.flush()
    return user


def ids(users: list[User]) -> list[int]:
    out = []
    for user in users:
        assert user.id is not None
        out.append(user.id)
    return out


@pytest.fixture
def people(db: Database) -> People:
    with db.session() as s:
        admin = make_user(s, name="Admin", external_id="9000")
        tempeh = [_member(s, f"Tempeh {i}") for i in range(4)]
        pasirian = [_member(s, f"Pasirian {i}", district="Kecamatan Pasirian", group="KIM Jaya")
                    for i in range(3)]
        kolaka = [_member(s, f"Kolaka {i}", district="Kecamatan Latambaga", group="KIM Mekar",
                          office="kolaka") for i in range(2)]
        opted_out = _member(s, "Berhenti")
        opted_out.subscribed = False
        erased = _member(s, "Dihapus")
        erased.erased_at = DEFAULT_AT
        inactive = _member(s, "Nonaktif")
        inactive.active = False
        make_user(s, name="Belum daftar")  # never registered: not a member
        staf_lmj = [make_official(s, "staf", name=f"Staf {i}") for i in range(2)]
        bind_role(s, tempeh[0], "staf")  # a member who is also staf (counted once)
        staf_klk = make_official(s, "staf", "kolaka")
        kadis = make_official(s, "kadis")
        kasi = make_official(s, "kasi")
        kasi.subscribed = False
        revoked = make_official(s, "kabid")
        for binding in s.exec(select(RoleBinding).where(RoleBinding.user_id == revoked.id)):
            binding.active = False
            s.add(binding)
        s.add_all([opted_out, erased, inactive, kasi])
        s.flush()
        return People(
            admin=ids([admin])[0], tempeh=ids(tempeh), pasirian=ids(pasirian),
            kolaka=ids(kolaka), opted_out=ids([opted_out])[0], erased=ids([erased])[0],
            inactive=ids([inactive])[0], staf_lmj=[*ids(staf_lmj), ids(tempeh)[0]],
            staf_klk=ids([staf_klk])[0], kadis_lmj=ids([kadis])[0],
            kasi_opted_out=ids([kasi])[0])


def recipient_ids(db: Database, audience: Audience) -> set[int]:
    with db.session() as s:
        return {int(i) for i in s.execute(bc.recipients(audience)).scalars()}


def test_audiences_have_exact_counts(db: Database, people: People) -> None:
    members = set(people.tempeh + people.pasirian + people.kolaka)
    cases = [
        (Audience("members"), members),
        (Audience("members", office="lumajang"), set(people.tempeh + people.pasirian)),
        (Audience("district", values=("Kecamatan Pasirian",)), set(people.pasirian)),
        (Audience("district", values=("Kecamatan Pasirian", "Kecamatan Tempeh")),
         set(people.tempeh + people.pasirian)),
        (Audience("group", values=("KIM Mekar",)), set(people.kolaka)),
        (Audience("group", values=("KIM Jaya", "Tidak Ada")), set(people.pasirian)),
        (Audience("role", role="staf"), {*people.staf_lmj, people.staf_klk}),
        (Audience("role", role="staf", office="lumajang"), set(people.staf_lmj)),
        (Audience("role", role="staf", office="kolaka"), {people.staf_klk}),
        (Audience("role", role="kadis", office="lumajang"), {people.kadis_lmj}),
        (Audience("role", role="kasi"), set()),  # the only kasi opted out
        (Audience("role", role="kabid"), set()),  # binding revoked
    ]
    with db.session() as s:
        for audience, expected in cases:
            assert recipient_ids(db, audience) == expected, audience
            assert bc.count_recipients(s, audience) == len(expected), audience
        excluded = {people.opted_out, people.erased, people.inactive, people.kasi_opted_out}
        assert not excluded & recipient_ids(db, Audience("members"))
        assert bc.audience_values(s, "district") == [
            ("Kecamatan Tempeh", 4), ("Kecamatan Pasirian", 3), ("Kecamatan Latambaga", 2)]
        assert bc.audience_values(s, "group", office="lumajang") == [
            ("KIM Sumber Rejeki", 4), ("KIM Jaya", 3)]
        assert dict(bc.role_counts(s, office="lumajang")) == {
            "kadis": 1, "sekdis": 0, "kabid": 0, "kasi": 0, "staf": 3, "tim": 0}


def test_audience_is_checked(db: Database) -> None:
    for bad in [{"kind": "everyone"}, {"kind": "district"}, {"kind": "role", "role": "raja"}]:
        with pytest.raises(BadInput):
            Audience.from_json(bad)
    audience = Audience("role", role="staf", office="kolaka")
    assert Audience.from_json(audience.to_json()) == audience


def test_drafts_keep_telegram_limits(db: Database, people: People, clock: ManualClock) -> None:
    with db.session() as s:
        assert bc.create_draft(s, clock, people.admin, "x" * 4096).text == "x" * 4096
        photo = bc.create_draft(s, clock, people.admin, "y" * 1024, media_kind="photo",
                                media_ref="AgADfile")
        assert (photo.media_kind, photo.status) == ("photo", "draft")
        assert bc.create_draft(s, clock, people.admin, "", media_kind="document",
                               media_ref="BQAD").text == ""
        for text, kind, ref in [("x" * 4097, "", ""), ("y" * 1025, "photo", "AgAD"),
                                ("   ", "", ""), ("z", "video", "BAAD"), ("z", "photo", "")]:
            with pytest.raises(BadInput) as refused, s.begin_nested():
                bc.create_draft(s, clock, people.admin, text, media_kind=kind, media_ref=ref)
            assert refused.value.key in ("bc.too_long", "bc.expect_content", "error.bad_input")


def _started(db: Database, clock: ManualClock, people: People,
             audience: Audience | None = None) -> int:
    audience = audience or Audience("members")
    with db.session() as s:
        row = bc.create_draft(s, clock, people.admin, "Pengumuman")
        assert row.id is not None
        bc.set_audience(s, row.id, audience)
        _, started = bc.start(s, clock, row.id, progress_chat_id="9000")
        assert started
        return row.id


def test_start_is_idempotent(db: Database, people: People, clock: ManualClock) -> None:
    bid = _started(db, clock, people)
    with db.session() as s:
        row, again = bc.start(s, clock, bid)
        assert not again
        assert (row.status, row.total) == ("running", 9)
        users = s.exec(select(BroadcastDelivery.user_id)
                       .where(BroadcastDelivery.broadcast_id == bid)).all()
        assert sorted(users) == sorted(people.tempeh + people.pasirian + people.kolaka)
        with pytest.raises(BadInput), s.begin_nested():
            bc.set_audience(s, bid, Audience("members"))  # a started broadcast keeps its own


def test_a_broadcast_to_nobody_is_finished_at_once(
    db: Database, people: People, clock: ManualClock,
) -> None:
    bid = _started(db, clock, people, Audience("role", role="kasi"))
    with db.session() as s:
        state = bc.progress(s, bid)
        assert (state.status, state.total, state.left) == ("finished", 0, 0)


def test_two_workers_never_claim_the_same_row(
    db: Database, people: People, clock: ManualClock,
) -> None:
    with db.session() as s:
        more = [_member(s, f"Banyak {i}") for i in range(150)]
        assert len(more) == 150
    bid = _started(db, clock, people)
    claimed: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            while True:
                with db.session() as s:
                    batch = bc.claim_batch(s, bid, 7)
                if not batch:
                    return
                claimed[n].extend(c.delivery_id for c in batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    every = [i for batch in claimed for i in batch]
    assert len(every) == len(set(every)) == 159  # nobody twice, nobody left out
    with db.session() as s:
        assert bc.progress(s, bid).counts == {"claimed": 159}
        assert bc.claim_batch(s, bid) == []


def test_resume_after_a_crash_sends_to_everyone_exactly_once(
    db: Database, people: People, clock: ManualClock,
) -> None:
    """A process dies with rows claimed, one in flight (it did reach Telegram) and some sent.

    After `resume_running`, a new process sends the rest: each recipient is reached once.
    """
    bid = _started(db, clock, people)
    telegram: Counter[int] = Counter()  # what recipients really got
    with db.session() as s:
        first = bc.claim_batch(s, bid, 5)
    for claim in first[:2]:  # delivered and confirmed
        with db.session() as s:
            assert bc.mark_sending(s, claim.delivery_id)
        telegram[claim.user_id] += 1
        with db.session() as s:
            bc.mark_sent(s, clock, [claim.delivery_id])
    with db.session() as s:  # in flight at the crash: Telegram got it, we never heard back
        assert bc.mark_sending(s, first[2].delivery_id)
    telegram[first[2].user_id] += 1
    # first[3:] stay claimed, never offered to Telegram. Crash.

    with db.session() as s:
        assert bc.resume_running(s) == [bid]
        state = bc.progress(s, bid)
    assert state.counts == {"sent": 2, "unconfirmed": 1, "pending": 6}
    assert (state.sent, state.unconfirmed, state.left) == (3, 1, 6)

    while True:  # the new process
        with db.session() as s:
            batch = bc.claim_batch(s, bid, 4)
        if not batch:
            break
        for claim in batch:
            with db.session() as s:
                assert bc.mark_sending(s, claim.delivery_id)
            telegram[claim.user_id] += 1
            with db.session() as s:
                bc.mark_sent(s, clock, [claim.delivery_id])
    with db.session() as s:
        final = bc.finish_if_done(s, clock, bid)
        assert final is not None
        assert bc.finish_if_done(s, clock, bid) is None  # the report is sent once
    everyone = set(people.tempeh + people.pasirian + people.kolaka)
    assert set(telegram) == everyone  # nobody skipped
    assert max(telegram.values()) == 1  # nobody twice
    assert (final.status, final.sent, final.unconfirmed, final.left) == ("finished", 9, 1, 0)
    with db.session() as s:
        row = s.get(Broadcast, bid)
        assert row is not None
        assert (row.sent, row.failed, row.unreachable) == (9, 0, 0)
        assert bc.resume_running(s) == []


def test_a_row_released_elsewhere_is_not_sent_by_its_old_claimer(
    db: Database, people: People, clock: ManualClock,
) -> None:
    bid = _started(db, clock, people)
    with db.session() as s:
        [old] = bc.claim_batch(s, bid, 1)
    with db.session() as s:  # another process starts up meanwhile
        bc.resume_running(s)
    with db.session() as s:
        assert not bc.mark_sending(s, old.delivery_id)  # the old claimer must not send
        again = bc.claim_batch(s, bid, 1)
        assert [c.delivery_id for c in again] == [old.delivery_id]
        assert bc.mark_sending(s, old.delivery_id)


def test_cancel_stops_claiming(db: Database, people: People, clock: ManualClock) -> None:
    bid = _started(db, clock, people)
    with db.session() as s:
        batch = bc.claim_batch(s, bid, 3)
        assert bc.mark_sending(s, batch[0].delivery_id)
    with db.session() as s:
        assert bc.cancel(s, clock, bid)
        assert not bc.cancel(s, clock, bid)
    with db.session() as s:
        assert bc.claim_batch(s, bid, 50) == []
        assert not bc.mark_sending(s, batch[1].delivery_id)  # held, but cancelled
        bc.mark_sent(s, clock, [batch[0].delivery_id])  # the one in flight completes
        state = bc.progress(s, bid)
        assert bc.finish_if_done(s, clock, bid) is None
    assert state.status == "cancelled"
    assert state.counts == {"sent": 1, "cancelled": 8}
    with db.session() as s:
        assert bc.running_ids(s) == []


def test_outcomes_and_opt_out_after_the_start(
    db: Database, people: People, clock: ManualClock,
) -> None:
    bid = _started(db, clock, people, Audience("district", values=("Kecamatan Tempeh",)))
    with db.session() as s:
        quitter = s.get(User, people.tempeh[3])
        assert quitter is not None
        assert bc.set_subscribed(s, quitter, False)
        assert not bc.set_subscribed(s, quitter, False)
    with db.session() as s:
        batch = bc.claim_batch(s, bid, 10)
    assert [c.user_id for c in batch] == people.tempeh[:3]  # the quitter is skipped
    a, b, c = (claim.delivery_id for claim in batch)
    with db.session() as s:
        for delivery in (a, b, c):
            assert bc.mark_sending(s, delivery)
        assert bc.mark_unreachable(s, a, "unreachable: Forbidden: bot was blocked by the user")
        assert bc.back_to_claimed(s, b, "429")
        assert bc.mark_failed(s, b, "gave up")
        assert bc.mark_unconfirmed(s, c, "no answer")
        assert bc.mark_sent(s, clock, [c]) == 1  # a late answer still confirms it
    with db.session() as s:
        state = bc.finish_if_done(s, clock, bid)
    assert state is not None
    assert (state.total, state.sent, state.failed, state.unreachable, state.skipped,
            state.unconfirmed, state.done) == (4, 1, 1, 1, 1, 0, 4)
    assert state.elapsed_s(clock.now()) == 0.0


def test_every_broadcast_text_is_in_both_languages() -> None:
    """Each bc.* / sub.* key the code uses exists in id and en with the same placeholders."""
    import re

    from bot.i18n import Translator, placeholders
    from bot.settings import ROOT

    catalog = Translator(ROOT / "locales")
    source = "".join((ROOT / name).read_text() for name in
                     ("bot/conversations/broadcast.py", "bot/broadcast.py",
                      "handlers/telegram/broadcaster.py"))
    used = set(re.findall(r'"((?:bc|sub)\.[a-z_]+)"', source))
    assert {"bc.report", "sub.stopped", "bc.too_long"} <= used
    for key in sorted(used):
        assert catalog.has("id", key), key
        assert catalog.has("en", key), key
        assert placeholders(catalog.catalogs["id"][key]) == placeholders(
            catalog.catalogs["en"][key]), key
