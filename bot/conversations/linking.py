"""One person, two channels: someone registered on one channel (with a verified phone) who
writes from the same number on a channel that vouches for it (WhatsApp) is asked whether
they are that person; yes links this account to them, no registers them anew."""

from __future__ import annotations

from sqlmodel import col, select

from bot.clock import to_db
from bot.conversations.intents import Link
from bot.conversations.output import Button, Edit, Message, Outcome, alert, say
from bot.conversations.turn import Turn
from bot.models import ChannelAccount, User


def _digits(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "62" + digits[1:] if digits.startswith("0") else digits


def candidate(t: Turn) -> User | None:
    """The registered person with the sender's own number, when this account is new."""
    phone = _digits(t.sender.phone)
    if not phone or t.user.registered_at is not None:
        return None
    others = t.session.exec(
        select(User).where(col(User.id) != t.user_id).where(col(User.phone).is_not(None))
        .where(col(User.registered_at).is_not(None)).where(col(User.active).is_(True))
        .where(col(User.erased_at).is_(None)))
    for user in others:
        if _digits(user.phone or "") == phone and not _has_account(t, user):
            return user
    return None


def _has_account(t: Turn, user: User) -> bool:
    return t.session.exec(select(ChannelAccount).where(ChannelAccount.user_id == user.id)
                          .where(ChannelAccount.channel == t.sender.channel)).first() is not None


def offer(t: Turn, user: User) -> Outcome:
    """Ask whether the sender is `user` (named, with the channel they registered on)."""
    return say(t.t("link.ask", name=user.full_name or user.display_name, channel=user.channel),
               [[Button(t.t("button.link_yes"), Link("yes")),
                 Button(t.t("button.link_no"), Link("no"))]])


def on_link(t: Turn, intent: Link) -> Outcome:
    """Yes: this account becomes the registered person's; no: register anew."""
    from bot.conversations import registration

    found = candidate(t)
    if found is None:
        return alert(t.t("error.stale_button"))
    if intent.answer == "no":
        outcome = registration.begin(t)
        outcome.edit = Edit()
        return outcome
    fresh = t.user
    account = t.session.exec(select(ChannelAccount).where(ChannelAccount.user_id == fresh.id)
                             .where(ChannelAccount.channel == t.sender.channel)
                             .where(ChannelAccount.account_id == t.sender.account_id)).one()
    t.end()
    # The empty person created by the first message keeps no account and no way in.
    fresh.channel, fresh.external_id = "merged", f"{fresh.id}:{t.sender.account_id}"[:64]
    fresh.active = False
    t.session.add(fresh)
    t.session.flush()
    account.user_id = found.id  # type: ignore[assignment]
    account.last_seen_at = to_db(t.svc.clock.now())
    found.channel, found.external_id = t.sender.channel, t.sender.account_id
    found.chat_id = t.sender.chat_id  # notified where they wrote last
    t.session.add(account)
    t.session.add(found)
    return Outcome([Message(t.t("link.done", name=found.full_name or ""))], edit=Edit())
