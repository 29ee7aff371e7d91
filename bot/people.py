"""People and their channel accounts, member registration and one-time role invitations.

A person (`User`) writes through one or more `ChannelAccount`s (a Telegram id, a WhatsApp
number). The account they used last is their preferred one, copied onto the User row
(channel, external_id, chat_id): notifications go there.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import clean
from bot.clock import Clock, from_db, to_db
from bot.errors import BadInput, NotAllowed
from bot.models import ChannelAccount, Dialog, Invitation, RoleBinding, User
from bot.roles import ROLES, canonical_role
from bot.settings import LANGUAGES, TELEGRAM, WHATSAPP, account_key

MAX_FIELD = 100


@dataclass(frozen=True)
class Profile:
    """What a member gives when registering."""

    full_name: str
    kim_group: str
    village: str
    district: str
    phone: str
    office: str


class SenderLike(Protocol):
    """What ensure_user needs to know about who wrote (bot.conversations.events.Sender)."""

    @property
    def channel(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def chat_id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def client_language(self) -> str | None: ...


# last_seen_at is written at most this often per account (not on every message).
SEEN_EVERY = timedelta(minutes=5)


# Built once: building this statement cost more than running it, on every update. The
# person's dialog comes along (every update reads it: one statement instead of two).
_ACCOUNT = (select(ChannelAccount, User, Dialog)
            .join(User, col(User.id) == col(ChannelAccount.user_id))
            .outerjoin(Dialog, col(Dialog.user_id) == col(User.id))
            .where(ChannelAccount.channel == bindparam("channel"))
            .where(ChannelAccount.account_id == bindparam("account")))


def ensure_user(
    session: Session,
    clock: Clock,
    sender: SenderLike | None = None,
    *,
    channel: str = "",
    external_id: str = "",
    chat_id: str = "",
    display_name: str = "",
    client_language: str | None = None,
) -> User:
    """Find or create the person behind an incoming message, through their channel account.

    The account written from becomes the person's preferred one (User.channel, external_id,
    chat_id): the bot notifies people on the channel they used last. Pass either a Sender
    or the keywords.
    """
    if sender is not None:
        return arrive(session, clock, sender)[0]
    return _arrive(session, clock, channel, external_id, chat_id, display_name,
                   client_language)[0]


def arrive(session: Session, clock: Clock, sender: SenderLike) -> tuple[User, Dialog | None]:
    """`ensure_user` for an update: the person, and their guided conversation if they are in
    one (read in the same statement)."""
    return _arrive(session, clock, sender.channel, sender.account_id, sender.chat_id,
                   sender.display_name, sender.client_language)


def _arrive(session: Session, clock: Clock, channel: str, external_id: str, chat_id: str,
            display_name: str, client_language: str | None) -> tuple[User, Dialog | None]:
    now = to_db(clock.now())
    found = session.exec(_ACCOUNT, params={"channel": channel, "account": external_id}).first()
    dialog: Dialog | None = None
    if found is None:
        user, account = _first_contact(session, now, channel, external_id, chat_id,
                                       display_name, client_language)
    else:
        account, user, dialog = found
    _seen(session, account, chat_id, now)
    changed = (user.channel, user.external_id, user.chat_id, user.display_name,
               user.client_language) != (channel, external_id, chat_id, display_name[:128],
                                         client_language)
    if changed:
        user.channel, user.external_id, user.chat_id = channel, external_id, chat_id
        user.display_name, user.client_language = display_name[:128], client_language
        session.add(user)
    return user, dialog


def _seen(session: Session, account: ChannelAccount, chat_id: str, now: datetime) -> None:
    """Note the account's chat and when it was last used (coarsely: fewer writes)."""
    if account.chat_id != chat_id or from_db(account.last_seen_at) + SEEN_EVERY <= from_db(now):
        account.chat_id, account.last_seen_at = chat_id, now
        session.add(account)


def _first_contact(
    session: Session, now: datetime, channel: str, external_id: str, chat_id: str,
    display_name: str, client_language: str | None,
) -> tuple[User, ChannelAccount]:
    """A new person with their first account; or the account of a person who had none."""
    user = _by_preferred(session, channel, external_id)
    if user is None:
        user = User(channel=channel, external_id=external_id, chat_id=chat_id,
                    display_name=display_name[:128], client_language=client_language,
                    created_at=now)
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
            assert user.id is not None
            account = ChannelAccount(user_id=user.id, channel=channel, account_id=external_id,
                                     chat_id=chat_id, created_at=now, last_seen_at=now)
            session.add(account)
    except IntegrityError:
        # A second worker created them a moment ago; use theirs.
        account_row, user_row = session.exec(
            select(ChannelAccount, User).join(User, col(User.id) == col(ChannelAccount.user_id))
            .where(ChannelAccount.channel == channel)
            .where(ChannelAccount.account_id == external_id)
        ).one()
        return user_row, account_row
    return user, account


def _by_preferred(session: Session, channel: str, external_id: str) -> User | None:
    """A person whose preferred account this is (rows written before channel accounts)."""
    return session.exec(
        select(User).where(User.channel == channel).where(User.external_id == external_id)
    ).first()


def account_candidates(typed: str) -> list[tuple[str, str]]:
    """The (channel, account id) pairs an id typed by an admin may mean, likeliest first.

    "telegram:123" / "whatsapp:62812…" name the channel; bare digits are a Telegram id (as
    always) or, starting with 62 or 0, an Indonesian WhatsApp number; "+62…" is WhatsApp.
    """
    text = typed.strip()
    if ":" in text:
        key = account_key(text)
        return [tuple(key.split(":", 1))] if key else []  # type: ignore[list-item]
    if text.startswith("+"):
        digits = text[1:]
        return [(WHATSAPP, digits)] if digits.isascii() and digits.isdigit() else []
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        return []
    found = [] if text.startswith("0") else [(TELEGRAM, str(int(text)))]
    if text.startswith("62"):
        found.append((WHATSAPP, text))
    elif text.startswith("0") and len(text) > 1:
        found.append((WHATSAPP, "62" + text[1:]))
    return found


def find_by_account(session: Session, typed: str) -> User | None:
    """The person behind an account id an admin typed, on any channel (None: unknown)."""
    for channel, account_id in account_candidates(typed):
        user = session.exec(
            select(User).join(ChannelAccount, col(ChannelAccount.user_id) == col(User.id))
            .where(ChannelAccount.channel == channel)
            .where(ChannelAccount.account_id == account_id)
        ).first() or _by_preferred(session, channel, account_id)
        if user is not None and user.erased_at is None:
            return user
    return None


def user_by_account(session: Session, channel: str, account_id: str) -> User | None:
    """The person behind one channel account, exactly as the channel names it."""
    return session.exec(
        select(User).join(ChannelAccount, col(ChannelAccount.user_id) == col(User.id))
        .where(ChannelAccount.channel == channel)
        .where(ChannelAccount.account_id == account_id)
    ).first() or _by_preferred(session, channel, account_id)


def accounts_of(session: Session, user_id: int) -> list[ChannelAccount]:
    """A person's channel accounts, the one used last first."""
    return list(session.exec(
        select(ChannelAccount).where(ChannelAccount.user_id == user_id)
        .order_by(col(ChannelAccount.last_seen_at).desc(), col(ChannelAccount.id).desc())
    ))


def chats_on(session: Session, user_ids: Iterable[int], channel: str) -> dict[int, str]:
    """Where to write to each person on `channel`: the preferred chat when it is that
    channel's, else their account there used last; people with none are left out."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    chats: dict[int, str] = {}
    for user_id, user_channel, chat_id in session.execute(
        select(col(User.id), col(User.channel), col(User.chat_id)).where(col(User.id).in_(ids))
    ):
        if user_channel == channel and chat_id:
            chats[int(user_id)] = str(chat_id)
    others = [i for i in ids if i not in chats]
    if others:
        for user_id, chat_id in session.execute(
            select(col(ChannelAccount.user_id), col(ChannelAccount.chat_id))
            .where(col(ChannelAccount.user_id).in_(others))
            .where(col(ChannelAccount.channel) == channel).where(col(ChannelAccount.chat_id) != "")
            .order_by(col(ChannelAccount.last_seen_at), col(ChannelAccount.id))
        ):
            chats[int(user_id)] = str(chat_id)  # the last one seen wins
    return chats


def language_of(user: User, default: str) -> str:
    """Chosen language first, then the client's, then the deployment default."""
    if user.language in LANGUAGES:
        return user.language
    client = (user.client_language or "").split("-")[0].lower()
    return client if client in LANGUAGES else default


def set_language(session: Session, user: User, language: str) -> None:
    if language not in LANGUAGES:
        raise BadInput("error.bad_choice")
    user.language = language
    session.add(user)


def clean_text(value: str, *, limit: int = MAX_FIELD) -> str:
    """Trim and check one typed answer; raise a translated refusal when unusable."""
    return clean.required(value, limit=limit)


def clean_phone(value: str) -> str:
    """The phone number in E.164 (+62…); ASCII digits only."""
    return clean.phone(value)


def register_member(session: Session, clock: Clock, user: User, profile: Profile) -> User:
    user.full_name = clean_text(profile.full_name)
    user.kim_group = clean_text(profile.kim_group)
    user.village = clean_text(profile.village)
    user.district = clean_text(profile.district)
    user.phone = clean_phone(profile.phone)
    user.office = profile.office
    user.registered_at = to_db(clock.now())
    session.add(user)
    return user


def create_invitation(
    session: Session,
    clock: Clock,
    *,
    office: str,
    role: str,
    created_by: str,
    ttl: timedelta,
    offices: set[str],
) -> Invitation:
    """A one-time code; whoever opens `/start <code>` gets the role."""
    if office not in offices:
        raise BadInput("error.unknown_office", offices=", ".join(sorted(offices)))
    code = canonical_role(role)
    if code is None:
        raise BadInput("error.unknown_role", roles=", ".join(ROLES))
    now = clock.now()
    invitation = Invitation(code=secrets.token_urlsafe(12), office=office, role=code,
                            created_by=created_by, created_at=to_db(now),
                            expires_at=to_db(now + ttl))
    session.add(invitation)
    return invitation


def accept_invitation(session: Session, clock: Clock, user: User, code: str) -> RoleBinding:
    """Bind the user to the invitation's role, once; refuse used or expired codes."""
    invitation = session.exec(
        select(Invitation).where(Invitation.code == code).with_for_update()
    ).first()
    if invitation is None:
        raise NotAllowed("error.invitation_unknown")
    if invitation.used_by is not None:
        raise NotAllowed("error.invitation_used")
    now = clock.now()
    if from_db(invitation.expires_at) <= now:
        raise NotAllowed("error.invitation_expired")
    assert user.id is not None
    invitation.used_by, invitation.used_at = user.id, to_db(now)
    session.add(invitation)
    existing = session.exec(
        select(RoleBinding).where(RoleBinding.user_id == user.id)
        .where(RoleBinding.office == invitation.office)
        .where(RoleBinding.role == invitation.role)
        .where(RoleBinding.active == True)  # noqa: E712
    ).first()
    if existing is not None:
        return existing
    binding = RoleBinding(user_id=user.id, office=invitation.office, role=invitation.role,
                          created_at=to_db(now), invitation_code=invitation.code)
    session.add(binding)
    return binding


def bindings_of(session: Session, user_id: int) -> list[RoleBinding]:
    return list(session.exec(
        select(RoleBinding).where(RoleBinding.user_id == user_id)
        .where(RoleBinding.active == True)  # noqa: E712
        .order_by(RoleBinding.office, RoleBinding.role)
    ))
