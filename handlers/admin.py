"""Admin commands: invitations for roles, the agenda book, Plt (acting officials)."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import acting
from bot.clock import from_db
from bot.errors import KimError
from bot.people import create_invitation
from bot.queries import agenda_book
from bot.roles import ROLES
from handlers.common import Reply, send_replies
from handlers.context import Turn, turn


async def invite(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Create a one-time invitation link for a role (/undang OFFICE ROLE)."""
    args = context.args or []
    username = context.bot.username
    with turn(update, context) as t:
        if not t.svc.is_admin(t.user.external_id):
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 2:
            replies = [Reply(t.t("invite.usage", offices=", ".join(t.svc.registry.offices),
                                 roles=", ".join(ROLES)))]
        else:
            try:
                with t.session.begin_nested():
                    inv = create_invitation(
                        t.session, t.svc.clock, office=args[0].lower(), role=args[1],
                        created_by=t.user.external_id,
                        ttl=timedelta(hours=t.svc.settings.invitation_ttl_h),
                        offices=set(t.svc.registry.offices))
                office = t.svc.registry.offices[inv.office]
                replies = [Reply(t.t(
                    "invite.created", role=t.svc.tr.role(t.lang, inv.role), office=office.name,
                    link=f"https://t.me/{username}?start={inv.code}", code=inv.code,
                    expires=t.svc.tr.when(t.lang, from_db(inv.expires_at), office.timezone)))]
            except KimError as exc:
                replies = [Reply(t.t(exc.key, **exc.params))]
    await send_replies(update, replies)


async def agenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the latest entries of an office's agenda book (/agenda [OFFICE] [YEAR])."""
    args = context.args or []
    with turn(update, context) as t:
        offices = t.svc.registry.offices
        office_code = args[0].lower() if args else next(iter(offices))
        if not t.svc.is_admin(t.user.external_id):
            replies = [Reply(t.t("error.admin_only"))]
        elif office_code not in offices or (len(args) > 1 and not args[1].isdigit()):
            replies = [Reply(t.t("agenda.usage", offices=", ".join(offices)))]
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


def _plt_list(t: Turn) -> str:
    entries = acting.current_and_coming(t.session, t.svc.clock, t.svc.registry.offices)
    if not entries:
        return t.t("plt.list_empty")
    return "\n\n".join([t.t("plt.list_header", count=len(entries)),
                        *(_plt_line(t, e) for e in entries)])


async def plt(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List Plt (/plt) or appoint one (/plt OFFICE ROLE TELEGRAM_ID FROM TO)."""
    args = context.args or []
    with turn(update, context) as t:
        if not t.svc.is_admin(t.user.external_id):
            replies = [Reply(t.t("error.admin_only"))]
        elif not args:
            replies = [Reply(_plt_list(t))]
        elif len(args) != 5:
            replies = [Reply(t.t("plt.usage", offices=", ".join(t.svc.registry.offices),
                                 roles=", ".join(ROLES)))]
        else:
            office, role, user_id, first, last = args
            try:
                with t.session.begin_nested():
                    entry = acting.appoint(
                        t.session, t.svc.clock, t.svc.registry.offices, office=office,
                        role=role, external_id=user_id, first=first, last=last,
                        created_by=t.user.external_id)
                where = t.svc.registry.offices[entry.office]
                replies = [Reply(t.t(
                    "plt.created", id=entry.id, name=entry.name,
                    role=t.svc.tr.role(t.lang, entry.role), office=where.name,
                    start=t.svc.tr.when(t.lang, entry.starts_at, where.timezone),
                    until=t.svc.tr.when(t.lang, entry.ends_at - timedelta(minutes=1),
                                        where.timezone)))]
            except KimError as exc:
                replies = [Reply(t.t(exc.key, **exc.params))]
    await send_replies(update, replies)


async def plt_revoke(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Revoke a Plt (/plt_batal ID)."""
    args = context.args or []
    with turn(update, context) as t:
        if not t.svc.is_admin(t.user.external_id):
            replies = [Reply(t.t("error.admin_only"))]
        elif len(args) != 1 or not args[0].lstrip("#").isdigit():
            replies = [Reply(t.t("plt.revoke_usage"))]
        else:
            try:
                with t.session.begin_nested():
                    entry = acting.revoke(t.session, t.svc.clock, t.svc.registry.offices,
                                          int(args[0].lstrip("#")))
                replies = [Reply(t.t(
                    "plt.revoked", id=entry.id, name=entry.name,
                    role=t.svc.tr.role(t.lang, entry.role),
                    office=t.svc.registry.offices[entry.office].name))]
            except KimError as exc:
                replies = [Reply(t.t(exc.key, **exc.params))]
    await send_replies(update, replies)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["undang", "invite"], invite))
    app.add_handler(CommandHandler("agenda", agenda))
    app.add_handler(CommandHandler(["plt", "acting"], plt))
    app.add_handler(CommandHandler(["plt_batal", "plt_revoke"], plt_revoke))
