"""Admin commands: members, roles, invitations, accounts, the agenda book, Plt.

Thin: each checks the office it touches against the admin's scope (bot/admin.py) and
renders what the core returns.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot import acting
from bot import admin as admin_core
from bot.clock import from_db
from bot.errors import KimError
from bot.models import User
from bot.people import create_invitation, language_of
from bot.queries import agenda_book
from bot.roles import ROLES
from handlers import callbacks, render
from handlers.common import Reply, send_replies
from handlers.context import Services, Turn, turn
from handlers.start import INVITE_CODE

log = logging.getLogger(__name__)


def _scope(t: Turn) -> admin_core.AdminScope:
    return t.svc.admin_scope(t.user.external_id)


def _error(t: Turn, exc: KimError) -> Reply:
    return Reply(t.t(exc.key, **exc.params))


async def invite(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Create a one-time invitation link for a role (/undang OFFICE ROLE; /undang ROLE for
    an admin of one office)."""
    args = context.args or []
    username = context.bot.username
    with turn(update, context) as t:
        scope = _scope(t)
        if len(args) == 1 and len(scope.offices) == 1:
            args = [scope.offices[0], *args]
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 2:
            replies = [Reply(t.t("invite.usage", offices=scope.listing(),
                                 roles=", ".join(ROLES)))]
        else:
            try:
                with t.session.begin_nested():
                    inv = create_invitation(
                        t.session, t.svc.clock,
                        office=scope.check(t.svc.registry.offices, args[0]), role=args[1],
                        created_by=t.user.external_id,
                        ttl=timedelta(hours=t.svc.settings.invitation_ttl_h),
                        offices=set(scope.offices))
                log.info("admin %s invited a %s of %s (%s)", t.user.external_id, inv.role,
                         inv.office, inv.code)
                office = t.svc.registry.offices[inv.office]
                replies = [Reply(t.t(
                    "invite.created", role=t.svc.tr.role(t.lang, inv.role), office=office.name,
                    link=f"https://t.me/{username}?start={inv.code}", code=inv.code,
                    expires=t.svc.tr.when(t.lang, from_db(inv.expires_at), office.timezone)))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


async def agenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the latest entries of an office's agenda book (/agenda [OFFICE] [YEAR])."""
    args = context.args or []
    with turn(update, context) as t:
        offices = t.svc.registry.offices
        scope = _scope(t)
        office_code = args[0].lower() if args else (scope.offices or ("",))[0]
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif office_code in offices and office_code not in scope.offices:
            replies = [_error(t, scope.refuse(offices, office_code))]
        elif office_code not in offices or (len(args) > 1 and not args[1].isdigit()):
            replies = [Reply(t.t("agenda.usage", offices=scope.listing()))]
        else:
            office = offices[office_code]
            year = int(args[1]) if len(args) > 1 else t.svc.clock.now().year
            cases = agenda_book(t.session, office_code, year)
            lines = [t.t("agenda.line", agenda=c.agenda_number,
                         received=t.svc.tr.when(t.lang, from_db(c.created_at), office.timezone),
                         subject=c.subject, status=t.t(f"status.{c.status}"), step_no=c.step_no)
                     for c in cases]
            replies = [Reply(t.t("agenda.header", office=office.name, year=year,
                                 count=len(cases)) + "\n\n" + ("\n".join(lines) or "-"))]
    await send_replies(update, replies)


def _plt_line(t: Turn, entry: acting.PltEntry) -> str:
    office = t.svc.registry.offices[entry.office]
    return t.t("plt.line", id=entry.id, office=office.short_name,
               role=t.svc.tr.role(t.lang, entry.role), name=entry.name,
               external_id=entry.external_id, first=entry.first_day.isoformat(),
               last=entry.last_day.isoformat(),
               state=t.t("plt.state_current" if entry.current else "plt.state_coming"))


def _plt_list(t: Turn, scope: admin_core.AdminScope) -> str:
    entries = [e for e in acting.current_and_coming(t.session, t.svc.clock,
                                                    t.svc.registry.offices)
               if e.office in scope.offices]
    if not entries:
        return t.t("plt.list_empty")
    return "\n\n".join([t.t("plt.list_header", count=len(entries)),
                        *(_plt_line(t, e) for e in entries)])


async def plt(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List Plt (/plt) or appoint one (/plt OFFICE ROLE TELEGRAM_ID FROM TO; an admin of one
    office may leave OFFICE out)."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if len(args) == 4 and len(scope.offices) == 1:
            args = [scope.offices[0], *args]
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif not args:
            replies = [Reply(_plt_list(t, scope))]
        elif len(args) != 5:
            replies = [Reply(t.t("plt.usage", offices=scope.listing(),
                                 roles=", ".join(ROLES)))]
        else:
            office, role, user_id, first, last = args
            try:
                with t.session.begin_nested():
                    entry = acting.appoint(
                        t.session, t.svc.clock, t.svc.registry.offices,
                        office=scope.check(t.svc.registry.offices, office),
                        role=role, external_id=user_id, first=first, last=last,
                        created_by=t.user.external_id)
                log.info("admin %s named Plt #%s (%s %s: user %s)", t.user.external_id,
                         entry.id, entry.office, entry.role, entry.user_id)
                where = t.svc.registry.offices[entry.office]
                replies = [Reply(t.t(
                    "plt.created", id=entry.id, name=entry.name,
                    role=t.svc.tr.role(t.lang, entry.role), office=where.name,
                    start=t.svc.tr.when(t.lang, entry.starts_at, where.timezone),
                    until=t.svc.tr.when(t.lang, entry.ends_at - timedelta(minutes=1),
                                        where.timezone)))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


async def plt_revoke(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Revoke a Plt (/plt_batal ID)."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 1 or not args[0].lstrip("#").isdigit():
            replies = [Reply(t.t("plt.revoke_usage"))]
        else:
            acting_id = int(args[0].lstrip("#"))
            try:
                with t.session.begin_nested():
                    where = admin_core.plt_office(t.session, acting_id)
                    if where is not None:
                        scope.check(t.svc.registry.offices, where)
                    entry = acting.revoke(t.session, t.svc.clock, t.svc.registry.offices,
                                          acting_id)
                log.info("admin %s revoked Plt #%s", t.user.external_id, entry.id)
                replies = [Reply(t.t(
                    "plt.revoked", id=entry.id, name=entry.name,
                    role=t.svc.tr.role(t.lang, entry.role),
                    office=t.svc.registry.offices[entry.office].name))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


# -- /anggota: members, filtered, paged with ◀ ▶ ---------------------------------------------


def _members_reply(t: Turn, query: admin_core.MemberQuery, page: admin_core.MemberPage,
                   query_id: int | None) -> Reply:
    offices = t.svc.registry.offices
    several = len(query.offices) > 1
    parts = [t.t("members.header", offices=", ".join(offices[o].short_name
                                                      for o in query.offices),
                 count=page.total, page=page.page, pages=page.pages)]
    filters = [f"{word}={value}" for word, value in (("kecamatan", query.district),
                                                      ("kim", query.kim)) if value]
    if filters:
        parts.append(t.t("members.filter_line", filters=", ".join(filters)))
    first = (page.page - 1) * admin_core.PER_PAGE
    lines = [t.t("members.line", n=first + i + 1,
                 office_tag=f"[{offices[r.office].short_name}] " if several else "",
                 name=r.name, inactive="" if r.active else t.t("members.inactive_mark"),
                 kim_group=r.kim_group, village=r.village, district=r.district, phone=r.phone,
                 external_id=r.external_id)
             for i, r in enumerate(page.rows)]
    text = "\n".join(parts) + "\n\n" + ("\n".join(lines) or t.t("members.none"))
    buttons: list[tuple[str, str]] = []
    if query_id is not None and page.page > 1:
        buttons.append(("◀", callbacks.members_page(query_id, page.page - 1)))
    if query_id is not None and page.page < page.pages:
        buttons.append(("▶", callbacks.members_page(query_id, page.page + 1)))
    return Reply(text, render.keyboard([buttons] if buttons else []))


async def members(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List KIM members (/anggota [OFFICE] [kecamatan=…] [kim=…])."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        else:
            try:
                with t.session.begin_nested():
                    query = admin_core.parse_member_args(args, scope, t.svc.registry.offices)
                    page = admin_core.members(t.session, query)
                    query_id = admin_core.save_query(
                        t.session, t.svc.clock, t.user.external_id, "members",
                        query.params()) if page.pages > 1 else None
                replies = [_members_reply(t, query, page, query_id)]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


async def on_members_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """◀ ▶ on a member list: show that page in the same message."""
    query = update.callback_query
    assert query is not None
    groups = callbacks.parse(callbacks.MEMBERS_PAGE, query.data)
    answer, reply = "", None
    with turn(update, context) as t:
        scope = _scope(t)
        params = (admin_core.load_query(t.session, int(groups[0]), t.user.external_id,
                                        "members") if groups and scope else None)
        if groups is None:
            answer = t.t("error.forged")
        elif not scope:
            answer = t.t("error.admin_only")
        elif params is None:
            answer = t.t("error.stale_button")
        else:
            saved = admin_core.MemberQuery.from_params(params)
            # An admin's offices may have changed since: page only what they still manage.
            kept = tuple(o for o in saved.offices if o in scope.offices)
            if not kept:
                answer = t.t("error.stale_button")
            else:
                asked = replace(saved, offices=kept)
                page = admin_core.members(t.session, asked, int(groups[1]))
                reply = _members_reply(t, asked, page, int(groups[0]))
    await query.answer(answer or None, show_alert=bool(answer))
    if reply is not None:
        await query.edit_message_text(render.clip(reply.text),
                                      reply_markup=reply.markup)  # type: ignore[arg-type]


def _roles_text(t: Turn, roles: list[tuple[str, str]]) -> str:
    offices = t.svc.registry.offices
    return ", ".join(
        f"{t.svc.tr.role(t.lang, role)} ({offices[o].short_name if o in offices else o})"
        for o, role in roles) or "-"


async def member_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """One member's profile and requests (/anggota_lihat TELEGRAM_ID)."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 1:
            replies = [Reply(t.t("member.usage"))]
        else:
            try:
                view = admin_core.member_view(t.session, scope, args[0])
                replies = [Reply(_member_text(t, view))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


def _member_text(t: Turn, view: admin_core.MemberView) -> str:
    offices = t.svc.registry.offices
    m = view.member
    office = offices.get(m.office)
    registered = (t.svc.tr.when(t.lang, view.registered_at, office.timezone)
                  if view.registered_at and office else "-")
    text = t.t("member.profile", name=m.name,
               inactive="" if m.active else t.t("members.inactive_mark"),
               external_id=m.external_id, office=office.name if office else "-",
               kim_group=m.kim_group, village=m.village, district=m.district, phone=m.phone,
               registered=registered, lang_name=view.language or "-",
               subscribed=t.t("word.yes" if view.subscribed else "word.no"),
               roles=_roles_text(t, view.roles))
    if not view.total_cases:
        return text + "\n\n" + t.t("member.no_cases")
    lines = [t.t("member.case_line", agenda=c.agenda, status=t.t(f"status.{c.status}"),
                 step_no=c.step_no, subject=c.subject) for c in view.cases]
    if view.total_cases > len(view.cases):
        lines.append(t.t("member.more", count=view.total_cases - len(view.cases)))
    return "\n\n".join([text, t.t("member.cases_header", count=view.total_cases),
                        "\n".join(lines)])


# -- /peran, /peran_cabut ------------------------------------------------------------------


async def roles(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the role bindings (/peran [OFFICE])."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) > 1:
            replies = [Reply(t.t("roles.usage", offices=scope.listing()))]
        else:
            try:
                chosen = scope.choose(t.svc.registry.offices, args[0] if args else None)
                rows = admin_core.bindings(t.session, chosen)
                offices = t.svc.registry.offices
                lines = [t.t("roles.line", id=r.id, office=offices[r.office].short_name,
                             role=t.svc.tr.role(t.lang, r.role), name=r.name,
                             external_id=r.external_id) for r in rows]
                header = t.t("roles.header", offices=", ".join(
                    offices[o].short_name for o in chosen), count=len(rows))
                replies = [Reply(header + "\n\n" + ("\n".join(lines) or t.t("roles.none")))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


async def role_revoke(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Revoke a role binding (/peran_cabut NUMBER); the person is told."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 1 or not args[0].lstrip("#").isdigit():
            replies = [Reply(t.t("roles.revoke_usage"))]
        else:
            try:
                with t.session.begin_nested():
                    row = admin_core.revoke_binding(t.session, t.svc.clock, scope,
                                                    t.svc.registry.offices,
                                                    int(args[0].lstrip("#")))
                replies = [Reply(t.t("roles.revoked", id=row.id, name=row.name,
                                     role=t.svc.tr.role(t.lang, row.role),
                                     office=t.svc.registry.offices[row.office].name))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


# -- /undangan, /undangan_batal ----------------------------------------------------------------


async def invitations(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the open invitations (/undangan [OFFICE])."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) > 1:
            replies = [Reply(t.t("invites.usage", offices=scope.listing()))]
        else:
            try:
                offices = t.svc.registry.offices
                chosen = scope.choose(offices, args[0] if args else None)
                rows = admin_core.open_invitations(t.session, t.svc.clock, chosen)
                lines = [t.t("invites.line", code=r.code, office=offices[r.office].short_name,
                             role=t.svc.tr.role(t.lang, r.role),
                             expires=t.svc.tr.when(t.lang, r.expires_at,
                                                   offices[r.office].timezone))
                         for r in rows]
                header = t.t("invites.header", offices=", ".join(
                    offices[o].short_name for o in chosen), count=len(rows))
                replies = [Reply(header + "\n\n" + ("\n".join(lines) or t.t("invites.none")))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


async def invitation_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Expire an open invitation now (/undangan_batal CODE)."""
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 1 or not INVITE_CODE.match(args[0]):
            replies = [Reply(t.t("invites.cancel_usage"))]
        else:
            try:
                with t.session.begin_nested():
                    row = admin_core.cancel_invitation(t.session, t.svc.clock, scope,
                                                       t.svc.registry.offices, args[0])
                replies = [Reply(t.t("invites.cancelled", code=row.code,
                                     role=t.svc.tr.role(t.lang, row.role),
                                     office=t.svc.registry.offices[row.office].name))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


# -- /nonaktif, /aktif ---------------------------------------------------------------------


async def _set_active(update: Update, context: ContextTypes.DEFAULT_TYPE, active: bool) -> None:
    args = context.args or []
    with turn(update, context) as t:
        scope = _scope(t)
        if not scope:
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 1 or not args[0].isdigit():
            replies = [Reply(t.t("account.usage_on" if active else "account.usage_off"))]
        else:
            try:
                with t.session.begin_nested():
                    row = admin_core.set_active(t.session, t.svc.clock, scope, t.svc.settings,
                                                args[0], active)
                replies = [Reply(t.t("account.reactivated" if active else "account.deactivated",
                                     name=row.name, external_id=row.external_id))]
            except KimError as exc:
                replies = [_error(t, exc)]
    await send_replies(update, replies)


async def deactivate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Deactivate an account (/nonaktif TELEGRAM_ID)."""
    await _set_active(update, context, False)


async def activate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reactivate an account (/aktif TELEGRAM_ID)."""
    await _set_active(update, context, True)


async def answer_blocked(update: Update, svc: Services, user: User) -> None:
    """Give a deactivated person one clear answer (app.gate stops everything else)."""
    lang = language_of(user, svc.settings.default_language)
    text = svc.tr.text(lang, "account.blocked")
    log.info("refused an update from deactivated user %s", user.id)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE:
        await update.effective_chat.send_message(text)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["undang", "invite"], invite))
    app.add_handler(CommandHandler("agenda", agenda))
    app.add_handler(CommandHandler(["plt", "acting"], plt))
    app.add_handler(CommandHandler(["plt_batal", "plt_revoke"], plt_revoke))
    app.add_handler(CommandHandler(["anggota", "members"], members))
    app.add_handler(CommandHandler(["anggota_lihat", "member"], member_view))
    app.add_handler(CommandHandler(["peran", "roles"], roles))
    app.add_handler(CommandHandler(["peran_cabut", "role_revoke"], role_revoke))
    app.add_handler(CommandHandler(["undangan", "invitations"], invitations))
    app.add_handler(CommandHandler(["undangan_batal", "invitation_cancel"], invitation_cancel))
    app.add_handler(CommandHandler(["nonaktif", "deactivate"], deactivate))
    app.add_handler(CommandHandler(["aktif", "activate"], activate))
    app.add_handler(CallbackQueryHandler(on_members_page, pattern=callbacks.MEMBERS_PAGE))
