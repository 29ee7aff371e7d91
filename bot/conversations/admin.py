"""Admin commands: members, roles, invitations, accounts, the agenda book, Plt.

The command table lets only admins in (Audience.ADMIN) and `core.py` answers every
`KimError`, so a command here only reads its arguments (a wrong shape raises `BadInput` with
its usage text), asks `bot/admin.py` or `bot/acting.py`, which check the office against the
admin's scope, and words the result. A new admin command is a row in `router.COMMANDS`
plus a function built from the parts below.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot import acting
from bot import admin as admin_core
from bot.clock import from_db
from bot.conversations.intents import MembersPage
from bot.conversations.output import Button, Buttons, Edit, Outcome, alert, say
from bot.conversations.start import INVITE_CODE
from bot.conversations.turn import Turn
from bot.errors import BadInput, NotAllowed
from bot.people import create_invitation
from bot.queries import agenda_book
from bot.roles import ROLES
from bot.sop.model import Office

log = logging.getLogger(__name__)

NUMBER = re.compile(r"#?(\d{1,9})\Z", re.ASCII)  # /plt_batal 3, /peran_cabut #12
ACCOUNT_ID = re.compile(r"\d{1,20}\Z", re.ASCII)  # a Telegram id (/nonaktif 123)
YEAR = re.compile(r"\d{4}\Z", re.ASCII)


# -- the parts every command is made of ------------------------------------------------------


def _me(t: Turn) -> str:
    """The admin as bot/admin.py records them (who invited, whose saved listing)."""
    return t.user.external_id


def _office(t: Turn, code: str) -> Office:
    return t.svc.registry.offices[code]


def _role(t: Turn, code: str) -> str:
    return t.svc.tr.role(t.lang, code)


def _when(t: Turn, office: str, moment: datetime) -> str:
    return t.svc.tr.when(t.lang, moment, _office(t, office).timezone)


def _usage(t: Turn, key: str) -> BadInput:
    """The command's usage text as a refusal (with the admin's offices and the roles)."""
    return BadInput(key, offices=t.scope().listing(), roles=", ".join(ROLES))


def _exactly(t: Turn, args: Sequence[str], count: int, usage: str) -> tuple[str, ...]:
    """The arguments, when there are `count` of them."""
    if len(args) != count:
        raise _usage(t, usage)
    return tuple(args)


def _office_first(t: Turn, args: Sequence[str], count: int, usage: str) -> tuple[str, ...]:
    """`count` arguments, the first an office; an admin of one office may leave it out."""
    mine = t.scope().offices
    if len(args) == count - 1 and len(mine) == 1:
        args = (mine[0], *args)
    office, *rest = _exactly(t, args, count, usage)
    return (t.scope().check(t.svc.registry.offices, office), *rest)


def _one(t: Turn, args: Sequence[str], usage: str, pattern: re.Pattern[str]) -> str:
    """The single argument, when it matches `pattern` (its first group, if it has one)."""
    (word,) = _exactly(t, args, 1, usage)
    match = pattern.match(word)
    if match is None:
        raise _usage(t, usage)
    return match.group(1 if pattern.groups else 0)


def _offices_named(t: Turn, args: Sequence[str], usage: str) -> tuple[str, ...]:
    """What a listing covers: `[OFFICE]`, else every office the admin manages."""
    if len(args) > 1:
        raise _usage(t, usage)
    return t.scope().choose(t.svc.registry.offices, args[0] if args else None)


def _listing(t: Turn, key: str, offices: Sequence[str], lines: list[str]) -> Outcome:
    """'<key>.header' over the lines, or '<key>.none'."""
    header = t.t(f"{key}.header", count=len(lines),
                 offices=", ".join(_office(t, o).short_name for o in offices))
    return say(header + "\n\n" + ("\n".join(lines) or t.t(f"{key}.none")))


def _changed(t: Turn, key: str, office: str, role: str, **params: object) -> Outcome:
    """The answer to a change of one binding, invitation or Plt."""
    return say(t.t(key, role=_role(t, role), office=_office(t, office).name, **params))


# -- /undang, /agenda ------------------------------------------------------------------------


def invite(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Create a one-time invitation for a role (/undang [OFFICE] ROLE)."""
    office, role = _office_first(t, args, 2, "invite.usage")
    inv = create_invitation(
        t.session, t.svc.clock, office=office, role=role, created_by=_me(t),
        ttl=timedelta(hours=t.svc.settings.invitation_ttl_h), offices=set(t.scope().offices))
    # Never the code: whoever reads the log could take the role.
    log.info("admin %s invited a %s of %s", t.sender.account, inv.role, inv.office)
    return _changed(t, "invite.created", inv.office, inv.role, code=inv.code,
                    link=t.svc.invite_link(t.sender.channel, inv.code),
                    expires=_when(t, inv.office, from_db(inv.expires_at)))


def agenda(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Show the latest entries of an office's agenda book (/agenda [OFFICE] [YEAR])."""
    offices = t.svc.registry.offices
    code = t.scope().check(offices, args[0]) if args else t.scope().offices[0]
    if code not in offices or (len(args) > 1 and not YEAR.match(args[1])):
        raise _usage(t, "agenda.usage")
    year = int(args[1]) if len(args) > 1 else t.svc.clock.now().year
    cases, total = agenda_book(t.session, code, year)
    lines = [t.t("agenda.line", agenda=c.agenda_number, subject=c.subject,
                 received=_when(t, code, from_db(c.created_at)),
                 status=t.t(f"status.{c.status}"), step_no=c.step_no)
             for c in cases]
    return say(t.t("agenda.header", office=offices[code].name, year=year, count=total)
                  + "\n\n" + ("\n".join(lines) or "-"))


# -- /plt, /plt_batal --------------------------------------------------------------------------


def _plt_line(t: Turn, entry: acting.PltEntry) -> str:
    return t.t("plt.line", id=entry.id, office=_office(t, entry.office).short_name,
               role=_role(t, entry.role), name=entry.name, external_id=entry.external_id,
               first=entry.first_day.isoformat(), last=entry.last_day.isoformat(),
               state=t.t("plt.state_current" if entry.current else "plt.state_coming"))


def _plt_list(t: Turn) -> Outcome:
    mine = t.scope().offices
    entries = [e for e in acting.current_and_coming(t.session, t.svc.clock,
                                                    t.svc.registry.offices)
               if e.office in mine]
    if not entries:
        return say(t.t("plt.list_empty"))
    return say("\n\n".join([t.t("plt.list_header", count=len(entries)),
                               *(_plt_line(t, e) for e in entries)]))


def plt(t: Turn, args: tuple[str, ...]) -> Outcome:
    """List Plt (/plt) or appoint one (/plt [OFFICE] ROLE TELEGRAM_ID FROM TO)."""
    if not args:
        return _plt_list(t)
    office, role, person, first, last = _office_first(t, args, 5, "plt.usage")
    entry = acting.appoint(t.session, t.svc.clock, t.svc.registry.offices, office=office,
                           role=role, external_id=person, first=first, last=last,
                           created_by=_me(t))
    log.info("admin %s named Plt #%s (%s %s: user %s)", t.sender.account, entry.id,
             entry.office, entry.role, entry.user_id)
    return _changed(t, "plt.created", entry.office, entry.role, id=entry.id, name=entry.name,
                    start=_when(t, entry.office, entry.starts_at),
                    until=_when(t, entry.office, entry.ends_at - timedelta(minutes=1)))


def plt_revoke(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Revoke a Plt (/plt_batal ID)."""
    acting_id = int(_one(t, args, "plt.revoke_usage", NUMBER))
    where = admin_core.plt_office(t.session, acting_id)
    if where is not None:
        t.scope().check(t.svc.registry.offices, where)
    entry = acting.revoke(t.session, t.svc.clock, t.svc.registry.offices, acting_id)
    log.info("admin %s revoked Plt #%s", t.sender.account, entry.id)
    return _changed(t, "plt.revoked", entry.office, entry.role, id=entry.id, name=entry.name)


# -- /anggota: members, filtered, paged with ◀ ▶ -----------------------------------------------


def _members_page(t: Turn, query: admin_core.MemberQuery, page: admin_core.MemberPage,
                  query_id: int | None) -> tuple[str, Buttons]:
    several = len(query.offices) > 1
    parts = [t.t("members.header", count=page.total, page=page.page, pages=page.pages,
                 offices=", ".join(_office(t, o).short_name for o in query.offices))]
    filters = [f"{word}={value}" for word, value in (("kecamatan", query.district),
                                                      ("kim", query.kim)) if value]
    if filters:
        parts.append(t.t("members.filter_line", filters=", ".join(filters)))
    first = (page.page - 1) * admin_core.PER_PAGE
    lines = [t.t("members.line", n=first + i + 1,
                 office_tag=f"[{_office(t, r.office).short_name}] " if several else "",
                 name=r.name, inactive="" if r.active else t.t("members.inactive_mark"),
                 kim_group=r.kim_group, village=r.village, district=r.district, phone=r.phone,
                 external_id=r.external_id)
             for i, r in enumerate(page.rows)]
    text = "\n".join(parts) + "\n\n" + ("\n".join(lines) or t.t("members.none"))
    buttons: list[Button] = []
    if query_id is not None and page.page > 1:
        buttons.append(Button("◀", MembersPage(query_id, page.page - 1)))
    if query_id is not None and page.page < page.pages:
        buttons.append(Button("▶", MembersPage(query_id, page.page + 1)))
    return text, [buttons] if buttons else []


def members(t: Turn, args: tuple[str, ...]) -> Outcome:
    """List KIM members (/anggota [OFFICE] [kecamatan=…] [kim=…])."""
    query = admin_core.parse_member_args(args, t.scope(), t.svc.registry.offices)
    page = admin_core.members(t.session, query)
    query_id = admin_core.save_query(t.session, t.svc.clock, _me(t), "members",
                                     query.params()) if page.pages > 1 else None
    return say(*_members_page(t, query, page, query_id))


def on_members_page(t: Turn, intent: MembersPage) -> Outcome:
    """◀ ▶ on a member list: show that page in the same message."""
    mine = t.scope().offices
    if not mine:  # the buttons are the admin's own
        raise NotAllowed("error.admin_only")
    params = admin_core.load_query(t.session, intent.query_id, _me(t), "members")
    saved = admin_core.MemberQuery.from_params(params or {})  # forgotten: no offices
    # An admin's offices may have changed since: page only what they still manage.
    kept = tuple(o for o in saved.offices if o in mine)
    if not kept:
        return alert(t.t("error.stale_button"))
    asked = replace(saved, offices=kept)
    page = admin_core.members(t.session, asked, intent.page)
    text, buttons = _members_page(t, asked, page, intent.query_id)
    return Outcome(edit=Edit(text=text, buttons=buttons))


def member_view(t: Turn, args: tuple[str, ...]) -> Outcome:
    """One member's profile and requests (/anggota_lihat TELEGRAM_ID)."""
    (person,) = _exactly(t, args, 1, "member.usage")
    return say(_member_text(t, admin_core.member_view(t.session, t.scope(), person)))


def _member_text(t: Turn, view: admin_core.MemberView) -> str:
    m = view.member
    office = t.svc.registry.offices.get(m.office)
    registered = (t.svc.tr.when(t.lang, view.registered_at, office.timezone)
                  if view.registered_at and office else "-")
    roles = ", ".join(f"{_role(t, role)} ({_short_name(t, o)})" for o, role in view.roles)
    text = t.t("member.profile", name=m.name,
               inactive="" if m.active else t.t("members.inactive_mark"),
               external_id=m.external_id, office=office.name if office else "-",
               kim_group=m.kim_group, village=m.village, district=m.district, phone=m.phone,
               registered=registered, lang_name=view.language or "-",
               subscribed=t.t("word.yes" if view.subscribed else "word.no"),
               roles=roles or "-")
    if not view.total_cases:
        return text + "\n\n" + t.t("member.no_cases")
    lines = [t.t("member.case_line", agenda=c.agenda, status=t.t(f"status.{c.status}"),
                 step_no=c.step_no, subject=c.subject) for c in view.cases]
    if view.total_cases > len(view.cases):
        lines.append(t.t("member.more", count=view.total_cases - len(view.cases)))
    return "\n\n".join([text, t.t("member.cases_header", count=view.total_cases),
                        "\n".join(lines)])


def _short_name(t: Turn, code: str) -> str:
    office = t.svc.registry.offices.get(code)
    return office.short_name if office else code


# -- /peran, /peran_cabut, /undangan, /undangan_batal -------------------------------------------


def roles(t: Turn, args: tuple[str, ...]) -> Outcome:
    """List the role bindings (/peran [OFFICE])."""
    chosen = _offices_named(t, args, "roles.usage")
    lines = [t.t("roles.line", id=r.id, office=_office(t, r.office).short_name,
                 role=_role(t, r.role), name=r.name, external_id=r.external_id)
             for r in admin_core.bindings(t.session, chosen)]
    return _listing(t, "roles", chosen, lines)


def role_revoke(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Revoke a role binding (/peran_cabut NUMBER); the person is told."""
    binding_id = int(_one(t, args, "roles.revoke_usage", NUMBER))
    row = admin_core.revoke_binding(t.session, t.svc.clock, t.scope(), t.svc.registry.offices,
                                    binding_id)
    return _changed(t, "roles.revoked", row.office, row.role, id=row.id, name=row.name)


def invitations(t: Turn, args: tuple[str, ...]) -> Outcome:
    """List the open invitations (/undangan [OFFICE])."""
    chosen = _offices_named(t, args, "invites.usage")
    lines = [t.t("invites.line", code=r.code, office=_office(t, r.office).short_name,
                 role=_role(t, r.role), expires=_when(t, r.office, r.expires_at))
             for r in admin_core.open_invitations(t.session, t.svc.clock, chosen)]
    return _listing(t, "invites", chosen, lines)


def invitation_cancel(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Expire an open invitation now (/undangan_batal CODE)."""
    code = _one(t, args, "invites.cancel_usage", INVITE_CODE)
    row = admin_core.cancel_invitation(t.session, t.svc.clock, t.scope(),
                                       t.svc.registry.offices, code)
    return _changed(t, "invites.cancelled", row.office, row.role, code=row.code)


# -- /nonaktif, /aktif -----------------------------------------------------------------------


def _set_active(t: Turn, args: tuple[str, ...], active: bool) -> Outcome:
    person = _one(t, args, "account.usage_on" if active else "account.usage_off", ACCOUNT_ID)
    row = admin_core.set_active(t.session, t.svc.clock, t.scope(), t.svc.settings, person,
                                active)
    return say(t.t("account.reactivated" if active else "account.deactivated",
                   name=row.name, external_id=row.external_id))


def deactivate(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Deactivate an account (/nonaktif TELEGRAM_ID)."""
    return _set_active(t, args, False)


def activate(t: Turn, args: tuple[str, ...]) -> Outcome:
    """Reactivate an account (/aktif TELEGRAM_ID)."""
    return _set_active(t, args, True)
