"""What every conversation and channel needs, built once at start-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from bot.admin import (
    AdminScope,
    admin_accounts_of_office,
    admin_offices,
    check_office_admins,
    scope_of,
)
from bot.clock import Clock, SystemClock
from bot.db import Database
from bot.files import FileStore
from bot.i18n import Translator
from bot.settings import Settings
from bot.sla import Sla
from bot.sop import SopRegistry
from bot.survey import invite as invite_to_survey
from bot.survey import load_form
from bot.workflow import Workflow


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: SopRegistry
    workflow: Workflow
    clock: Clock
    tr: Translator
    files: FileStore
    # Set by the channels' senders and the SLA scheduler: woken after a commit that wrote
    # an outbox row or moved a deadline. Several channels may each add a waker.
    outbox_wakers: list[Callable[[], None]] = field(default_factory=list)
    # Each is told the earliest deadline an update set (None: look in the database).
    sla_wakers: list[Callable[[datetime | None], None]] = field(default_factory=list)
    # Set by a channel adapter: how an invitation code becomes a link on that channel
    # (Telegram: https://t.me/<bot>?start=CODE). Without one, the link is the bare code.
    invite_links: dict[str, Callable[[str], str]] = field(default_factory=dict)

    def is_admin(self, account: str) -> bool:
        """Admin of at least one office; `account` is 'channel:id' (e.g. 'telegram:123')."""
        return bool(self.admin_offices(account))

    def admin_offices(self, account: str) -> list[str]:
        """Offices this account may manage as admin, in registry order ([] if none)."""
        return admin_offices(self.settings, self.registry.offices, account)

    def admin_scope(self, account: str) -> AdminScope:
        """The same, with the checks every admin command makes on its office argument."""
        return scope_of(self.settings, self.registry.offices, account)

    def invite_link(self, channel: str, code: str) -> str:
        """The link that accepts invitation `code` on `channel` (the code itself if none)."""
        make = self.invite_links.get(channel)
        return make(code) if make is not None else code

    def kick_outbox(self) -> None:
        for wake in list(self.outbox_wakers):
            wake()

    def kick_sla(self, earliest: datetime | None = None) -> None:
        for wake in list(self.sla_wakers):
            wake(earliest)


def build_services(settings: Settings, clock: Clock | None = None, *,
                   registry: SopRegistry | None = None, db: Database | None = None) -> Services:
    """Load SOPs and catalogs, open the database and bring its schema up to date (a
    `registry` or `db` passed in is used as it is: handlers/startup.py checked them)."""
    clock = clock or SystemClock()
    registry = registry or SopRegistry.from_dir(settings.sop_dir)
    check_office_admins(settings, registry.offices)
    if db is None:
        db = Database(settings.database_url)
        db.migrate()
    # a late step with nobody above its role escalates to the office's admins
    admins = {code: admin_accounts_of_office(settings, registry.offices, code)
              for code in registry.offices}
    workflow = Workflow(registry, clock, Sla(registry, clock, admins=admins))
    load_form(settings.sop_dir)  # a broken skm.yaml stops the start, with its reason
    # A finished request invites its member to the SKM survey (once, in office hours).
    workflow.on_finish.append(partial(
        invite_to_survey, clock=clock, registry=registry,
        delay=timedelta(minutes=settings.survey_delay_min)))
    return Services(settings=settings, db=db, registry=registry,
                    workflow=workflow,
                    clock=clock,
                    tr=Translator(settings.locales_dir, settings.default_language),
                    files=FileStore.from_settings(settings))
