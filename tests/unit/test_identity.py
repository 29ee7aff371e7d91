"""A person and their channel accounts (bot/people.py), on every database backend.

A person writes through one or more accounts (Telegram, WhatsApp); the one used last is the
preferred one, where notifications and announcements go, and each channel's sender claims only
the rows of its own channel. Admins type an account id of any channel.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from bot import admin
from bot import broadcast as bc
from bot.clock import ManualClock, to_db
from bot.db import Database
from bot.errors import BadInput
from bot.models import ChannelAccount, Notification, User
from bot.outbox import claim_due, notify, release_stale
from bot.people import account_candidates, chats_on, ensure_user, find_by_account
from bot.settings import Settings
from bot.sop import SopRegistry
from tests.support.db import count
from tests.support.factories import make_member, make_user

WA = "6281234567890"


def arrive(s: Session, clock: ManualClock, channel: str, account: str, chat: str = "",
           name: str = "Wati") -> User:
    """The person behind a message on `channel` from `account`."""
    user = ensure_user(s, clock, channel=channel, external_id=account, chat_id=chat or account,
                       display_name=name, client_language="id")
    s.flush()
    return user


def link(s: Session, clock: ManualClock, user: User, channel: str, account: str) -> None:
    """Give `user` a second account (as linking a WhatsApp number will)."""
    assert user.id is not None
    now = to_db(clock.now())
    s.add(ChannelAccount(user_id=user.id, channel=channel, account_id=account, chat_id=account,
                         created_at=now, last_seen_at=now))
    s.flush()


def test_first_contact_makes_a_person_with_one_account(db: Database, clock: ManualClock) -> None:
    with db.session() as s:
        wati = arrive(s, clock, "telegram", "501")
        again = arrive(s, clock, "telegram", "501")
        assert again.id == wati.id
        [account] = s.exec(select(ChannelAccount)).all()
        assert (account.user_id, account.channel, account.account_id, account.chat_id) == (
            wati.id, "telegram", "501", "501")
        assert (wati.channel, wati.external_id, wati.chat_id) == ("telegram", "501", "501")
        assert count(s, User) == 1


def test_the_account_used_last_is_the_preferred_one(db: Database, clock: ManualClock) -> None:
    with db.session() as s:
        wati = arrive(s, clock, "telegram", "501")
        link(s, clock, wati, "whatsapp", WA)
        clock.advance(timedelta(hours=1))
        same = arrive(s, clock, "whatsapp", WA, chat=f"{WA}@wa")
        assert same.id == wati.id
        assert (wati.channel, wati.external_id, wati.chat_id) == ("whatsapp", WA, f"{WA}@wa")
        account = s.exec(select(ChannelAccount).where(ChannelAccount.channel == "whatsapp")).one()
        assert account.chat_id == f"{WA}@wa"
        assert account.last_seen_at is not None
        # Notified where they wrote last; back on Telegram, notified there again.
        notify(s, clock, wati.id or 0, "notify.account_reactivated")
        arrive(s, clock, "telegram", "501")
        notify(s, clock, wati.id or 0, "notify.account_reactivated")
        s.flush()
        channels = s.exec(select(Notification.channel).order_by(col(Notification.id))).all()
        assert channels == ["whatsapp", "telegram"]
        assert count(s, User) == 1


def test_a_person_made_before_channel_accounts_gets_one(db: Database, clock: ManualClock) -> None:
    with db.session() as s:
        old = make_user(s, name="Lama", external_id="777")  # a User row without an account
        assert count(s, ChannelAccount) == 0
        found = arrive(s, clock, "telegram", "777", chat="7770")
        assert found.id == old.id
        account = s.exec(select(ChannelAccount)).one()
        assert (account.user_id, account.account_id, account.chat_id) == (old.id, "777", "7770")


def test_each_sender_claims_only_its_channel(db: Database, clock: ManualClock) -> None:
    with db.session() as s:
        tg = arrive(s, clock, "telegram", "501")
        wa = arrive(s, clock, "whatsapp", WA, name="Budi")
        notify(s, clock, tg.id or 0, "notify.account_reactivated")
        notify(s, clock, wa.id or 0, "notify.account_reactivated")
    with db.session() as s:
        assert [r.recipient_id for r in claim_due(s, clock, 10, channel="whatsapp")] == [wa.id]
        assert [r.recipient_id for r in claim_due(s, clock)] == [tg.id]  # Telegram by default
        assert claim_due(s, clock, 10, channel="whatsapp") == []
    clock.advance(timedelta(minutes=5))
    with db.session() as s:  # a crashed WhatsApp sender's lease ends: only its rows return
        assert release_stale(s, clock, channel="whatsapp") == 1
        assert [r.recipient_id for r in claim_due(s, clock, 10, channel="whatsapp")] == [wa.id]
        assert release_stale(s, clock) == 1  # the Telegram row; the WhatsApp one is leased


def test_broadcast_deliveries_go_out_on_each_recipients_channel(
    db: Database, clock: ManualClock,
) -> None:
    with db.session() as s:
        boss = make_user(s, name="Admin", external_id="9000")
        tg = make_member(s, "Tele")
        wa = make_member(s, "Wasap")
        link(s, clock, wa, "whatsapp", WA)
        wa.channel, wa.external_id, wa.chat_id = "whatsapp", WA, f"{WA}@wa"
        s.add(wa)
        row = bc.create_draft(s, clock, boss.id or 0, "Halo")
        bc.set_audience(s, row.id or 0, bc.Audience("members"))
        bc.start(s, clock, row.id or 0)
    with db.session() as s:
        on_wa = bc.claim_batch(s, row.id or 0, 10, channel="whatsapp")
        assert [(c.user_id, c.chat_id, c.channel) for c in on_wa] == [
            (wa.id, f"{WA}@wa", "whatsapp")]
        on_tg = bc.claim_batch(s, row.id or 0, 10)
        assert [(c.user_id, c.chat_id, c.channel) for c in on_tg] == [
            (tg.id, tg.chat_id, "telegram")]


def test_chats_on_a_channel_that_is_not_the_preferred_one(
    db: Database, clock: ManualClock,
) -> None:
    with db.session() as s:
        wati = arrive(s, clock, "telegram", "501")
        link(s, clock, wati, "whatsapp", WA)
        budi = arrive(s, clock, "telegram", "502", name="Budi")
        assert chats_on(s, [wati.id or 0, budi.id or 0], "whatsapp") == {wati.id: WA}
        assert chats_on(s, [wati.id or 0, budi.id or 0], "telegram") == {
            wati.id: "501", budi.id: "502"}


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("123", [("telegram", "123")]),
        (" telegram:123 ", [("telegram", "123")]),
        ("whatsapp:+6281234567890", [("whatsapp", "6281234567890")]),
        ("+6281234567890", [("whatsapp", "6281234567890")]),
        ("6281234567890", [("telegram", "6281234567890"), ("whatsapp", "6281234567890")]),
        ("081234567890", [("whatsapp", "6281234567890")]),
        ("erased-5", []), ("sms:1", []), ("", []), ("+62 812", []), ("١٢٣", []),
    ],
)
def test_what_an_id_typed_by_an_admin_may_mean(
    typed: str, meant: list[tuple[str, str]],
) -> None:
    assert account_candidates(typed) == meant


def test_admins_find_people_by_any_account(
    db: Database, clock: ManualClock, registry: SopRegistry,
) -> None:
    with db.session() as s:
        wati = arrive(s, clock, "telegram", "501")
        link(s, clock, wati, "whatsapp", WA)
        budi = arrive(s, clock, "whatsapp", "6289999999999", name="Budi")
        for typed in ("501", "telegram:501", WA, f"+{WA}", "081234567890", f"whatsapp:{WA}"):
            assert admin.find_person(s, typed).id == wati.id, typed
        assert find_by_account(s, "089999999999") is not None
        assert admin.find_person(s, "+6289999999999").id == budi.id
        with pytest.raises(BadInput, match=r"admin\.unknown_user"):
            admin.find_person(s, "whatsapp:501")
        budi.active = False
        s.add(budi)
        s.flush()
        assert admin.blocked_user(s, "whatsapp", "6289999999999") is not None
        assert admin.blocked_user(s, "telegram", "501") is None
        assert admin.blocked_user(s, "whatsapp", WA) is None


def test_an_admin_on_whatsapp_may_not_deactivate_themselves_or_another_admin(
    db: Database, clock: ManualClock, registry: SopRegistry,
) -> None:
    settings = Settings(_env_file=None, KIMBOT_ADMIN_IDS=f"whatsapp:{WA}",  # type: ignore[call-arg]
                        KIMBOT_OFFICE_ADMINS="telegram:9100:lumajang")
    with db.session() as s:
        me = arrive(s, clock, "telegram", "9000", name="Admin")
        link(s, clock, me, "whatsapp", WA)
        arrive(s, clock, "whatsapp", "6281111111111", name="Lumajang")
        other = s.exec(select(User).where(User.external_id == "6281111111111")).one()
        link(s, clock, other, "telegram", "9100")
    everyone = admin.scope_of(settings, registry.offices, f"whatsapp:{WA}")
    assert everyone.everywhere
    assert everyone.account == f"whatsapp:{WA}"
    with db.session() as s:
        with pytest.raises(BadInput, match=r"account\.not_self"):
            admin.set_active(s, clock, everyone, settings, "9000", False)
        with pytest.raises(BadInput, match=r"account\.not_admin"):
            admin.set_active(s, clock, everyone, settings, "+6281111111111", False)


def test_a_member_sees_every_account_held_about_them(
    db: Database, clock: ManualClock,
) -> None:
    with db.session() as s:
        wati = arrive(s, clock, "telegram", "501")
        clock.advance(timedelta(hours=1))
        link(s, clock, wati, "whatsapp", WA)
        assert admin.personal_data(s, clock, wati).accounts == (f"whatsapp:{WA}", "telegram:501")


def test_erasure_forgets_every_channel_account(
    db: Database, clock: ManualClock,
) -> None:
    with db.session() as s:
        wati = make_member(s, "Wati", external_id="901")
        arrive(s, clock, "telegram", "901")
        link(s, clock, wati, "whatsapp", WA)
        admin.erase_personal_data(s, clock, wati)
    with db.session() as s:
        assert count(s, ChannelAccount) == 0
        assert find_by_account(s, WA) is None
        assert find_by_account(s, "901") is None
        stranger = arrive(s, clock, "whatsapp", WA)
        assert stranger.id != wati.id
