"""Users, member registration and one-time role invitations."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.clock import Clock, from_db, to_db
from bot.errors import BadInput, NotAllowed
from bot.models import Invitation, RoleBinding, User
from bot.roles import ROLES, canonical_role
from bot.settings import LANGUAGES

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


def ensure_user(
    session: Session,
    clock: Clock,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    display_name: str,
    client_language: str | None,
) -> User:
    """Find or create the person behind an incoming message."""
    user = session.exec(
        select(User).where(User.channel == channel).where(User.external_id == external_id)
    ).first()
    if user is None:
        user = User(channel=channel, external_id=external_id, chat_id=chat_id,
                    display_name=display_name[:128], client_language=client_language,
                    created_at=to_db(clock.now()))
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            # A second worker created it a moment ago; use theirs.
            user = session.exec(
                select(User).where(User.channel == channel)
                .where(User.external_id == external_id)
            ).one()
        return user
    changed = (user.chat_id, user.display_name, user.client_language) != (
        chat_id, display_name[:128], client_language)
    if changed:
        user.chat_id, user.display_name = chat_id, display_name[:128]
        user.client_language = client_language
        session.add(user)
    return user


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
    text = " ".join(value.split())
    if not text:
        raise BadInput("error.empty_answer")
    if len(text) > limit:
        raise BadInput("error.too_long", limit=limit)
    return text


def clean_phone(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if not 8 <= len(digits) <= 15:
        raise BadInput("error.bad_phone")
    return "+" + digits if value.strip().startswith("+") else digits


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
