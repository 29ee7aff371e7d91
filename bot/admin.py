"""People and roles, as the admin manages them, office by office; and members' own data (UU PDP).

Who is an admin: the accounts in KIMBOT_ADMIN_IDS manage every office; KIMBOT_OFFICE_ADMINS
("123:lumajang,whatsapp:6281234567890:kolaka") names admins of some offices only. An admin is
an account key, "channel:id" ("telegram:123"; a bare id in the settings is Telegram's).
`scope_of` says which offices one account may manage, and every admin command checks the
office it touches against that scope (`AdminScope.check`, `.pick`, `.choose`): a limited
admin who names no office gets their own, one who names another office is refused
(`admin.office_refused`).

What the admin does here: list members (`members`, with kecamatan/KIM filters, paged through
`save_query`), look at one (`member_view`), list and revoke role bindings, list and cancel open
invitations, deactivate and reactivate people. What a member does: see the data held about them
(`personal_data`) and have it erased (`erase_personal_data`). Every change is logged at INFO;
what concerns a case is also written to its AuditEntry trail (the lembar disposisi).

No channel code here: plain values in, rows or `KimError`s out, in the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from bot.clock import Clock, from_db, to_db
from bot.complaints import erase_member_files
from bot.errors import BadInput, NotAllowed, NotFound
from bot.files import FileStore, delete_after_commit, forget_unused
from bot.models import (
    ActingOfficial,
    AdminQuery,
    Attachment,
    AuditEntry,
    Case,
    ChannelAccount,
    Dialog,
    DocumentVersion,
    Invitation,
    Notification,
    RoleBinding,
    User,
)
from bot.outbox import notify
from bot.people import accounts_of, find_by_account, user_by_account
from bot.roles import ROLES
from bot.settings import TELEGRAM, Settings, account_key
from bot.sop.model import REQUESTER, Office
from bot.survey import erase_member_survey_data

log = logging.getLogger(__name__)

PER_PAGE = 20
MAX_FILTER = 64
QUERY_TTL = timedelta(days=7)
ERASED_NAME = "Anggota KIM (dihapus)"
ERASE_KIND = "erase"  # AuditEntry.kind of an erasure, shown on the lembar disposisi
_ROLE_ORDER = {code: index for index, code in enumerate(ROLES)}
# /anggota filter words (Indonesian first, English aliases) → what they filter
FILTER_KEYS = {"kecamatan": "district", "kec": "district", "district": "district",
               "kim": "kim", "kelompok": "kim", "group": "kim"}


# -- who may manage which office -------------------------------------------------------


@dataclass(frozen=True)
class AdminScope:
    """The offices one admin may manage, in the registry's order."""

    account: str  # the admin's account key, "telegram:123"
    offices: tuple[str, ...]
    everywhere: bool  # in KIMBOT_ADMIN_IDS: every office, now and later

    def __bool__(self) -> bool:
        return bool(self.offices)

    def listing(self) -> str:
        return ", ".join(self.offices)

    def refuse(self, offices: Mapping[str, Office], code: str) -> NotAllowed:
        return NotAllowed("admin.office_refused", office=offices[code].name)

    def check(self, offices: Mapping[str, Office], code: str) -> str:
        """`code` lower-cased; a known office outside the scope is refused.

        An unknown code passes: each command answers it with its own message.
        """
        code = code.strip().lower()
        if code in offices and code not in self.offices:
            raise self.refuse(offices, code)
        return code

    def pick(self, offices: Mapping[str, Office], given: str | None) -> str:
        """The one office a command acts on: the one named, or the admin's only office."""
        if given is None:
            if len(self.offices) == 1:
                return self.offices[0]
            raise BadInput("admin.office_needed", offices=self.listing())
        code = self.check(offices, given)
        if code not in offices:
            raise BadInput("error.unknown_office", offices=self.listing())
        return code

    def choose(self, offices: Mapping[str, Office], given: str | None) -> tuple[str, ...]:
        """The offices a listing covers: the one named, else all the admin's."""
        return self.offices if given is None else (self.pick(offices, given),)


def admin_offices(settings: Settings, offices: Iterable[str], account: int | str) -> list[str]:
    """Offices this account may manage as admin (registry order); [] when not an admin.

    `account` is a key "channel:id"; a bare id (123, "123") is a Telegram id.
    """
    codes = list(offices)
    key = account_key(account)
    if key is None:
        return []
    if key in settings.admin_ids:
        return codes
    mine = {office for admin, office in settings.office_admins if admin == key}
    return [code for code in codes if code in mine]


def scope_of(settings: Settings, offices: Iterable[str], account: int | str) -> AdminScope:
    codes = admin_offices(settings, offices, account)
    key = account_key(account)
    return AdminScope(key or str(account), tuple(codes), key in settings.admin_ids)


def check_office_admins(settings: Settings, offices: Iterable[str]) -> None:
    """At start-up: every office named in KIMBOT_OFFICE_ADMINS must be served here."""
    known = list(offices)
    unknown = sorted({office for _admin, office in settings.office_admins if office not in known})
    if unknown:
        raise ValueError(f"KIMBOT_OFFICE_ADMINS names unknown offices {', '.join(unknown)}; "
                         f"this deployment serves {', '.join(known)}")


def all_admin_accounts(settings: Settings) -> set[str]:
    """Every configured admin's account key, of every channel."""
    return set(settings.admin_ids) | {admin for admin, _office in settings.office_admins}


def admin_accounts(settings: Settings, channel: str) -> list[str]:
    """The account ids of the admins on one channel (e.g. to give them the admin menu)."""
    ids = {key.partition(":")[2] for key in all_admin_accounts(settings)
           if key.partition(":")[0] == channel}
    return sorted(ids, key=lambda i: (len(i), i))


def admin_accounts_of_office(settings: Settings, offices: Iterable[str], office: str) -> list[str]:
    """Account keys of the admins of `office`: every-office admins first, then its own."""
    if office not in set(offices):
        return []
    found: list[str] = []
    for key in [*settings.admin_ids,
                *(admin for admin, code in settings.office_admins if code == office)]:
        normal = account_key(key)
        if normal is not None and normal not in found:
            found.append(normal)
    return found


def all_admin_ids(settings: Settings) -> set[int]:
    """The Telegram admins' user ids (kept for the Telegram adapter; see admin_accounts)."""
    return {int(i) for i in admin_accounts(settings, TELEGRAM)}


def account_keys(session: Session, user: User) -> set[str]:
    """Every account key of a person: their channel accounts and their preferred one."""
    assert user.id is not None
    keys = {f"{a.channel}:{a.account_id}" for a in accounts_of(session, user.id)}
    keys.add(f"{user.channel}:{user.external_id}")
    return keys


# -- people ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberRow:
    """A person as the admin's lists show them."""

    user_id: int
    external_id: str
    name: str
    kim_group: str
    village: str
    district: str
    phone: str
    office: str
    active: bool


def _row(user: User) -> MemberRow:
    assert user.id is not None
    return MemberRow(user_id=user.id, external_id=user.external_id,
                     name=user.full_name or user.display_name or "-",
                     kim_group=user.kim_group or "-", village=user.village or "-",
                     district=user.district or "-", phone=user.phone or "-",
                     office=user.office or "", active=user.active)


def find_person(session: Session, external_id: str) -> User:
    """Someone who has opened the bot, by an account id an admin typed, on any channel
    ("123" a Telegram id, "telegram:123", "whatsapp:62812…", "+62812…"); erased people are
    nobody now."""
    user = find_by_account(session, external_id)
    if user is None or user.id is None:
        raise BadInput("admin.unknown_user", user=external_id)
    return user


def blocked_user(session: Session, channel: str, external_id: str) -> User | None:
    """The person behind an update, if an admin has deactivated them (else None)."""
    user = user_by_account(session, channel, external_id)
    return user if user is not None and not user.active else None


def offices_of_person(session: Session, user: User) -> set[str]:
    """Where someone belongs: the office they registered with and those they hold roles in."""
    found = {user.office} if user.office and user.registered_at is not None else set()
    found |= set(session.exec(
        select(RoleBinding.office).where(RoleBinding.user_id == user.id)
        .where(RoleBinding.active == True)  # noqa: E712
    ))
    return found


def _may_see(scope: AdminScope, belongs: set[str]) -> bool:
    return scope.everywhere or bool(belongs & set(scope.offices))


def _may_change(scope: AdminScope, belongs: set[str]) -> bool:
    """A limited admin changes an account only if it belongs to their offices alone."""
    return scope.everywhere or (bool(belongs) and belongs <= set(scope.offices))


def _name(user: User) -> str:
    return user.full_name or user.display_name or user.external_id


# -- /anggota: members, filtered and paged ---------------------------------------------------


@dataclass(frozen=True)
class MemberQuery:
    offices: tuple[str, ...]
    district: str = ""
    kim: str = ""

    def params(self) -> dict[str, Any]:
        return {"offices": list(self.offices), "district": self.district, "kim": self.kim}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> MemberQuery:
        return cls(tuple(str(o) for o in params.get("offices", [])),
                   str(params.get("district", "")), str(params.get("kim", "")))


@dataclass(frozen=True)
class MemberPage:
    rows: list[MemberRow]
    page: int  # 1-based
    pages: int
    total: int


def parse_member_args(args: Sequence[str], scope: AdminScope,
                      offices: Mapping[str, Office]) -> MemberQuery:
    """`[OFFICE] [kecamatan=…] [kim=…]`; a value may hold spaces (`kim=KIM Sumber Makmur`)."""
    tokens = list(args)
    given = None
    if tokens and "=" not in tokens[0]:
        given = tokens.pop(0)
    values: dict[str, list[str]] = {}
    current: str | None = None
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep and key.strip().lower() in FILTER_KEYS:
            current = FILTER_KEYS[key.strip().lower()]
            values[current] = [value] if value else []
        elif current is None:
            raise BadInput("members.usage", offices=scope.listing())
        else:
            values[current].append(token)
    cleaned: dict[str, str] = {}
    for key, words in values.items():
        text = " ".join(" ".join(words).split())
        if not text:
            raise BadInput("members.usage", offices=scope.listing())
        if len(text) > MAX_FILTER:
            raise BadInput("error.too_long", limit=MAX_FILTER)
        cleaned[key] = text
    return MemberQuery(scope.choose(offices, given), **cleaned)


def _member_filter(query: MemberQuery) -> Any:
    statement = (select(User).where(col(User.office).in_(query.offices))
                 .where(col(User.registered_at).is_not(None))
                 .where(col(User.erased_at).is_(None)))
    if query.district:
        statement = statement.where(func.lower(col(User.district)).contains(
            query.district.lower(), autoescape=True))
    if query.kim:
        statement = statement.where(func.lower(col(User.kim_group)).contains(
            query.kim.lower(), autoescape=True))
    return statement


def members(session: Session, query: MemberQuery, page: int = 1,
            per_page: int = PER_PAGE) -> MemberPage:
    """Registered (not erased) members of the offices, by office, name and id."""
    base = _member_filter(query)
    total = int(session.exec(select(func.count()).select_from(base.subquery())).one())
    pages = max(1, ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = session.exec(
        base.order_by(col(User.office), func.lower(col(User.full_name)), col(User.id))
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return MemberPage([_row(u) for u in rows], page, pages, total)


def save_query(session: Session, clock: Clock, admin_id: str, kind: str,
               params: dict[str, Any]) -> int:
    """Keep a listing's parameters for its ◀ ▶ buttons; forget week-old ones."""
    now = clock.now()
    row = AdminQuery(admin_id=admin_id, kind=kind, params=params, created_at=to_db(now))
    session.add(row)
    session.flush()
    assert row.id is not None
    # Pruned after the insert: SQLite would hand out a deleted highest id again, and an old
    # button would then page someone else's listing.
    session.execute(delete(AdminQuery).where(col(AdminQuery.id) < row.id)
                    .where(col(AdminQuery.created_at) < to_db(now - QUERY_TTL)))
    return row.id


def load_query(session: Session, query_id: int, admin_id: str, kind: str) -> dict[str, Any] | None:
    """The parameters of a saved listing, only for the admin who asked for it."""
    row = session.get(AdminQuery, query_id)
    if row is None or row.admin_id != admin_id or row.kind != kind:
        return None
    return dict(row.params)


# -- /anggota_lihat: one member ----------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    agenda: str
    subject: str
    status: str
    step_no: int
    office: str


@dataclass(frozen=True)
class MemberView:
    member: MemberRow
    registered_at: datetime | None
    language: str | None
    subscribed: bool
    roles: list[tuple[str, str]]  # (office, role)
    cases: list[CaseRow]  # newest first, at most `limit`
    total_cases: int


def member_view(session: Session, scope: AdminScope, external_id: str,
                limit: int = 20) -> MemberView:
    user = find_person(session, external_id)
    belongs = offices_of_person(session, user)
    if not _may_see(scope, belongs):
        raise NotAllowed("admin.person_refused", name=_name(user))
    log.info("admin %s viewed the profile of user %s", scope.account, user.id)
    visible = set(scope.offices)
    theirs = [col(Case.requester_id) == user.id, col(Case.office).in_(visible)]
    total = session.exec(select(func.count()).select_from(Case).where(*theirs)).one()
    cases = session.exec(
        select(Case).where(*theirs).order_by(col(Case.id).desc()).limit(limit)
    ).all()
    roles = session.exec(
        select(RoleBinding).where(RoleBinding.user_id == user.id)
        .where(RoleBinding.active == True)  # noqa: E712
        .order_by(col(RoleBinding.office), col(RoleBinding.id))
    ).all()
    return MemberView(
        member=_row(user),
        registered_at=from_db(user.registered_at) if user.registered_at else None,
        language=user.language, subscribed=user.subscribed,
        roles=[(b.office, b.role) for b in roles],
        cases=[CaseRow(c.agenda_number, c.subject, c.status, c.step_no, c.office)
               for c in cases],
        total_cases=int(total),
    )


# -- /peran, /peran_cabut: role bindings ------------------------------------------------------


@dataclass(frozen=True)
class BindingRow:
    id: int
    office: str
    role: str
    user_id: int
    name: str
    external_id: str
    active: bool


def _binding_row(binding: RoleBinding, user: User) -> BindingRow:
    assert binding.id is not None
    return BindingRow(id=binding.id, office=binding.office, role=binding.role,
                      user_id=binding.user_id, name=_name(user),
                      external_id=user.external_id, active=binding.active)


def bindings(session: Session, offices: Sequence[str]) -> list[BindingRow]:
    """Active role bindings of the offices: by office (as given), rank (Kadis first), name."""
    rows = session.exec(
        select(RoleBinding, User).join(User, col(RoleBinding.user_id) == col(User.id))
        .where(col(RoleBinding.office).in_(list(offices)))
        .where(RoleBinding.active == True)  # noqa: E712
    ).all()
    order = {code: index for index, code in enumerate(offices)}
    found = [_binding_row(b, u) for b, u in rows]
    return sorted(found, key=lambda r: (order.get(r.office, 99), _ROLE_ORDER.get(r.role, 99),
                                        r.name.lower(), r.id))


def revoke_binding(session: Session, clock: Clock, scope: AdminScope,
                   offices: Mapping[str, Office], binding_id: int) -> BindingRow:
    """End a role binding now and tell the person (notify.role_revoked).

    Their open task buttons stop working (the workflow re-checks the role at every press) and
    new tasks of that role go to the others who hold it.
    """
    binding = session.exec(
        select(RoleBinding).where(RoleBinding.id == binding_id).with_for_update()
    ).first()
    if binding is None:
        raise NotFound("roles.not_found", id=binding_id)
    if binding.office not in scope.offices:
        if binding.office in offices:
            raise scope.refuse(offices, binding.office)
        raise NotFound("roles.not_found", id=binding_id)
    if not binding.active:
        raise BadInput("roles.already_revoked", id=binding_id)
    user = session.get(User, binding.user_id)
    assert user is not None
    binding.active = False
    binding.revoked_at = to_db(clock.now())
    session.add(binding)
    notify(session, clock, binding.user_id, "notify.role_revoked", office=binding.office,
           office_name=offices[binding.office].name, roles=[binding.role])
    log.info("admin %s revoked role binding #%s (%s %s of user %s)", scope.account,
             binding_id, binding.office, binding.role, binding.user_id)
    return _binding_row(binding, user)


# -- /undangan, /undangan_batal: open invitations --------------------------------------------


@dataclass(frozen=True)
class InvitationRow:
    code: str
    office: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime


def _invitation_row(row: Invitation) -> InvitationRow:
    return InvitationRow(code=row.code, office=row.office, role=row.role,
                         created_by=row.created_by, created_at=from_db(row.created_at),
                         expires_at=from_db(row.expires_at))


def open_invitations(session: Session, clock: Clock, offices: Sequence[str]) -> list[InvitationRow]:
    """Unused, unexpired invitations of the offices, oldest first."""
    rows = session.exec(
        select(Invitation).where(col(Invitation.office).in_(list(offices)))
        .where(col(Invitation.used_by).is_(None))
        .where(Invitation.expires_at > to_db(clock.now()))
        .order_by(col(Invitation.created_at), col(Invitation.code))
    ).all()
    order = {code: index for index, code in enumerate(offices)}
    return sorted((_invitation_row(r) for r in rows),
                  key=lambda r: (order.get(r.office, 99), r.created_at, r.code))


def cancel_invitation(session: Session, clock: Clock, scope: AdminScope,
                      offices: Mapping[str, Office], code: str) -> InvitationRow:
    """Expire an open invitation now: its link binds nobody any more."""
    row = session.exec(
        select(Invitation).where(Invitation.code == code).with_for_update()
    ).first()
    if row is None or (row.office not in scope.offices and row.office not in offices):
        raise NotFound("invites.not_found", code=code)
    if row.office not in scope.offices:
        raise scope.refuse(offices, row.office)
    if row.used_by is not None:
        raise BadInput("invites.used", code=code)
    now = clock.now()
    if from_db(row.expires_at) <= now:
        raise BadInput("invites.expired", code=code)
    row.expires_at = to_db(now)
    session.add(row)
    # Never the code: it would let whoever reads the log join as this role.
    log.info("admin %s cancelled an invitation (%s %s)", scope.account, row.office, row.role)
    return _invitation_row(row)


# -- Plt ---------------------------------------------------------------------------------------


def plt_office(session: Session, acting_id: int) -> str | None:
    """The office of a Plt appointment (for the scope check before /plt_batal), or None."""
    row = session.get(ActingOfficial, acting_id)
    return row.office if row is not None else None


# -- /nonaktif, /aktif ---------------------------------------------------------------------


def set_active(session: Session, clock: Clock, scope: AdminScope, settings: Settings,
               external_id: str, active: bool) -> MemberRow:
    """Deactivate (the bot stops serving them; no notifications, no broadcasts) or reactivate.

    Roles stay bound but count for nothing while the person is inactive: tasks go to the
    other holders. Nobody can deactivate themselves or a configured admin.
    """
    user = find_person(session, external_id)
    assert user.id is not None
    keys = account_keys(session, user)
    if scope.account in keys:
        raise BadInput("account.not_self")
    if keys & all_admin_accounts(settings):
        raise BadInput("account.not_admin", name=_name(user))
    if not _may_change(scope, offices_of_person(session, user)):
        raise NotAllowed("admin.person_refused", name=_name(user))
    if user.active == active:
        raise BadInput("account.already_active" if active else "account.already_inactive",
                       name=_name(user))
    user.active = active
    session.add(user)
    if active:
        notify(session, clock, user.id, "notify.account_reactivated")
    else:
        dialog = session.get(Dialog, user.id)
        if dialog is not None:
            session.delete(dialog)
    log.info("admin %s %s user %s", scope.account,
             "reactivated" if active else "deactivated", user.id)
    return _row(user)


# -- the member's own data (UU PDP) -------------------------------------------------------------


@dataclass(frozen=True)
class PersonalData:
    """Everything the bot holds that describes the person (for /dataku)."""

    external_id: str
    display_name: str
    full_name: str | None
    kim_group: str | None
    village: str | None
    district: str | None
    phone: str | None
    office: str | None
    registered_at: datetime | None
    created_at: datetime
    language: str | None
    client_language: str | None
    subscribed: bool
    roles: list[tuple[str, str]]  # (office, role), active bindings
    acting: list[tuple[str, str]]  # (office, role), Plt in force or coming
    cases: int  # requests they made
    attachments: int  # files they sent
    accounts: tuple[str, ...] = ()  # their channel accounts, "telegram:123", used last first


def personal_data(session: Session, clock: Clock, user: User) -> PersonalData:
    assert user.id is not None
    roles = session.exec(
        select(RoleBinding).where(RoleBinding.user_id == user.id)
        .where(RoleBinding.active == True)  # noqa: E712
        .order_by(col(RoleBinding.office), col(RoleBinding.id))
    ).all()
    acting = session.exec(
        select(ActingOfficial).where(ActingOfficial.user_id == user.id)
        .where(col(ActingOfficial.revoked_at).is_(None))
        .where(ActingOfficial.ends_at > to_db(clock.now()))
        .order_by(col(ActingOfficial.starts_at))
    ).all()
    cases = session.exec(select(func.count()).select_from(Case)
                         .where(Case.requester_id == user.id)).one()
    files = session.exec(select(func.count()).select_from(Attachment)
                         .where(Attachment.uploaded_by == user.id)
                         .where(Attachment.file_ref != "")).one()
    return PersonalData(
        external_id=user.external_id, display_name=user.display_name,
        full_name=user.full_name, kim_group=user.kim_group, village=user.village,
        district=user.district, phone=user.phone, office=user.office,
        registered_at=from_db(user.registered_at) if user.registered_at else None,
        created_at=from_db(user.created_at), language=user.language,
        client_language=user.client_language, subscribed=user.subscribed,
        roles=[(b.office, b.role) for b in roles], acting=[(a.office, a.role) for a in acting],
        cases=int(cases), attachments=int(files),
        accounts=tuple(f"{a.channel}:{a.account_id}" for a in accounts_of(session, user.id)),
    )


def holds_office_role(session: Session, clock: Clock, user: User) -> bool:
    """An active role binding, or a Plt in force or coming."""
    holds = session.exec(
        select(RoleBinding.id).where(RoleBinding.user_id == user.id)
        .where(RoleBinding.active == True)  # noqa: E712
    ).first()
    acting = session.exec(
        select(ActingOfficial.id).where(ActingOfficial.user_id == user.id)
        .where(col(ActingOfficial.revoked_at).is_(None))
        .where(ActingOfficial.ends_at > to_db(clock.now()))
    ).first()
    return holds is not None or acting is not None


@dataclass(frozen=True)
class Erasure:
    cases_kept: int
    files_removed: int
    notifications_dropped: int
    blobs: tuple[str, ...] = ()  # stored files no row uses any more (deleted after commit)


def erase_personal_data(
    session: Session, clock: Clock, user: User, store: FileStore | None = None,
) -> Erasure:
    """Erase the member's personal data on their request (UU No. 27/2022 PDP, hak penghapusan).

    Erased (the person can no longer be identified from what the bot holds):
    - the profile: full_name becomes "Anggota KIM (dihapus)"; phone, village (desa), KIM group,
      district (kecamatan), Telegram display name, chosen and client language are cleared;
    - the link to their channel accounts (Telegram, WhatsApp): every ChannelAccount row is
      deleted, external_id becomes "erased-<row id>" and chat_id "", so the next message from
      such an account is a stranger's, who may register again as new; their old letters stay
      with the anonymised row, not with the new one;
    - files they sent with their letters: each such Attachment loses its file_ref (the
      channel's handle to fetch the file), its store hash and its file name; kind, size and
      label stay, so the record still says "Surat tugas (PDF, 120 kB) was received". The
      bytes leave the file store (`store`, after the commit) and their cached channel
      references (FileRef) are dropped, unless another row still uses the same file (the
      same bytes sent by someone else, a working document, an announcement);
    - their guided conversation (Dialog) and every notification not yet delivered to them;
      their name in queued or sent notifications about their letters (`from_name`);
    - subscribed becomes False (no more broadcasts); erased_at records when.

    Kept, and why: the letters are public administrative records that the office must keep
    (UU No. 43/2009 Kearsipan; seed 004: "Petugas harus mencatat dan mengarsip surat masuk,
    surat keluar dan disposisi untuk menjaga kontinuitas data" — nothing may be lost), which
    UU PDP allows (processing to meet a legal obligation / public service). So each Case row
    stays (agenda number in the Buku Agenda, perihal, maksud/tujuan as the letter said it,
    status), with its AuditEntry lines (who did what at which step, the officials' notes),
    StepVisits (time standards met or missed) and working documents (DocumentVersion, office
    work even if a former official uploaded them). The trail
    now names the requester "Anggota KIM (dihapus)", and gets one line saying the data was
    erased. The office the member belonged to and the registration date stay, as counts for
    the office's reports.

    People who hold an office role (or a Plt) are refused: an official's acts are the office's
    record; the admin revokes the role first.
    """
    assert user.id is not None
    if holds_office_role(session, clock, user):
        raise NotAllowed("privacy.erase_official")
    now = to_db(clock.now())
    old_names = {n for n in (user.full_name, user.display_name) if n}
    cases = session.exec(select(Case).where(Case.requester_id == user.id)).all()
    case_ids = [c.id for c in cases if c.id is not None]
    for case in cases:
        assert case.id is not None
        session.add(AuditEntry(case_id=case.id, at=now, step_no=case.step_no,
                               action="hapus_data", kind=ERASE_KIND, actor_id=user.id,
                               actor_role=REQUESTER, note=""))
    files = 0
    working = select(DocumentVersion.attachment_id).where(
        col(DocumentVersion.attachment_id).is_not(None))
    blobs: set[str] = set()
    for row in session.exec(select(Attachment).where(Attachment.uploaded_by == user.id)
                            .where(col(Attachment.id).not_in(working))):
        if row.file_ref or row.file_name or row.blob_hash:
            files += 1
            if row.blob_hash:
                blobs.add(row.blob_hash)
            row.file_ref, row.file_name, row.blob_hash = "", "", None
            session.add(row)
    blobs |= erase_member_files(session, user.id)  # files sent with complaints
    session.flush()
    unused = forget_unused(session, blobs)
    if store is not None:
        delete_after_commit(session, store, unused)
    dropped = session.execute(
        delete(Notification).where(col(Notification.recipient_id) == user.id)
        .where(col(Notification.status).in_(["pending", "sending"]))
    )
    if case_ids and old_names:
        for note in session.exec(select(Notification)
                                 .where(col(Notification.case_id).in_(case_ids))):
            if note.params.get("from_name") in old_names:
                note.params = {**note.params, "from_name": ERASED_NAME}
                session.add(note)
    dialog = session.get(Dialog, user.id)
    if dialog is not None:
        session.delete(dialog)
    erase_member_survey_data(session, user.id)  # the SKM profile and suggestions
    user.full_name = ERASED_NAME
    user.phone = user.village = user.kim_group = user.district = None
    user.display_name = ""
    user.language = user.client_language = None
    user.subscribed = False
    user.erased_at = now
    session.execute(delete(ChannelAccount).where(col(ChannelAccount.user_id) == user.id))
    user.external_id = f"erased-{user.id}"
    user.chat_id = ""
    session.add(user)
    session.flush()
    log.info("user %s erased their personal data (%d cases kept, %d files removed)",
             user.id, len(cases), files)
    return Erasure(cases_kept=len(cases), files_removed=files,
                   notifications_dropped=int(getattr(dropped, "rowcount", 0) or 0),
                   blobs=tuple(unused))


__all__ = [
    "ERASED_NAME",
    "AdminScope",
    "BindingRow",
    "CaseRow",
    "Erasure",
    "InvitationRow",
    "MemberPage",
    "MemberQuery",
    "MemberRow",
    "MemberView",
    "PersonalData",
    "account_keys",
    "admin_accounts",
    "admin_offices",
    "all_admin_accounts",
    "all_admin_ids",
    "bindings",
    "blocked_user",
    "cancel_invitation",
    "check_office_admins",
    "erase_personal_data",
    "find_person",
    "holds_office_role",
    "load_query",
    "member_view",
    "members",
    "open_invitations",
    "parse_member_args",
    "personal_data",
    "plt_office",
    "revoke_binding",
    "save_query",
    "scope_of",
    "set_active",
]
