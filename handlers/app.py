"""All wiring in one place: build the PTB application around the core services."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    ContextTypes,
    TypeHandler,
)

from bot import admin as admin_core
from bot.admin import all_admin_ids, check_office_admins
from bot.clock import Clock, SystemClock
from bot.db import Database
from bot.dedupe import first_time
from bot.i18n import Translator
from bot.settings import Settings
from bot.sop import SopRegistry
from bot.workflow import Workflow
from handlers import (
    admin,
    broadcast,
    casework,
    internal,
    officials,
    print,
    privacy,
    registration,
    reports,
    request,
    router,
    start,
)
from handlers.context import KEY, Services, services
from handlers.scheduler import SlaScheduler
from handlers.sender import OutboxSender
from handlers.updates import PerChatUpdateProcessor

log = logging.getLogger(__name__)

COMMANDS = {
    "id": [
        ("permohonan", "Ajukan permohonan layanan"),
        ("status", "Lihat status permohonan Anda"),
        ("tugas", "Daftar disposisi yang menunggu Anda"),
        ("disposisi", "Lihat lembar disposisi (nomor agenda)"),
        ("mulai", "Mulai SOP internal (mis. Kepala Dinas)"),
        ("dokumen", "Versi dokumen kerja (nomor agenda)"),
        ("batal", "Batalkan percakapan yang berjalan"),
        ("bahasa", "Ganti bahasa"),
        ("dataku", "Data pribadi Anda yang disimpan bot"),
        ("hapus_data", "Hapus data pribadi Anda"),
        ("berhenti", "Berhenti menerima pengumuman"),
        ("langganan", "Terima pengumuman lagi"),
        ("bantuan", "Bantuan"),
    ],
    "en": [
        ("permohonan", "Submit a service request"),
        ("status", "See where your requests stand"),
        ("tugas", "Dispositions waiting for you"),
        ("disposisi", "Show a disposition sheet (agenda number)"),
        ("mulai", "Start an internal SOP (e.g. Head of agency)"),
        ("dokumen", "Working document versions (agenda number)"),
        ("batal", "Cancel the running conversation"),
        ("bahasa", "Change language"),
        ("dataku", "The personal data the bot holds about you"),
        ("hapus_data", "Erase your personal data"),
        ("berhenti", "Stop receiving announcements"),
        ("langganan", "Receive announcements again"),
        ("bantuan", "Help"),
    ],
}
# Shown (after the commands above) only in the chats of the admins of KIMBOT_ADMIN_IDS and
# KIMBOT_OFFICE_ADMINS.
ADMIN_COMMANDS = {
    "id": [
        ("siaran", "Kirim pengumuman (siaran)"),
        ("anggota", "Daftar anggota KIM (kantor, kecamatan=, kim=)"),
        ("anggota_lihat", "Profil dan permohonan seorang anggota"),
        ("peran", "Daftar peran petugas"),
        ("peran_cabut", "Cabut sebuah peran"),
        ("undang", "Buat undangan peran"),
        ("undangan", "Undangan yang masih terbuka"),
        ("undangan_batal", "Batalkan undangan"),
        ("nonaktif", "Nonaktifkan akun"),
        ("aktif", "Aktifkan kembali akun"),
        ("agenda", "Buku agenda"),
        ("plt", "Plt (pelaksana tugas)"),
    ],
    "en": [
        ("siaran", "Send an announcement (broadcast)"),
        ("anggota", "KIM members (office, kecamatan=, kim=)"),
        ("anggota_lihat", "A member's profile and requests"),
        ("peran", "Officials' roles"),
        ("peran_cabut", "Revoke a role"),
        ("undang", "Create a role invitation"),
        ("undangan", "Open invitations"),
        ("undangan_batal", "Cancel an invitation"),
        ("nonaktif", "Deactivate an account"),
        ("aktif", "Reactivate an account"),
        ("agenda", "Agenda book"),
        ("plt", "Acting officials (Plt)"),
    ],
}


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Load SOPs and catalogs, open the database and bring its schema up to date."""
    clock = clock or SystemClock()
    registry = SopRegistry.from_dir(settings.sop_dir)
    check_office_admins(settings, registry.offices)
    db = Database(settings.database_url)
    db.migrate()
    return Services(settings=settings, db=db, registry=registry,
                    workflow=Workflow(registry, clock), clock=clock,
                    tr=Translator(settings.locales_dir, settings.default_language))


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Drop an update already handled and answer a deactivated person; nothing else runs.

    One transaction for both checks: they run before every update, so they are on the
    hot path (Telegram may deliver an update twice; admins are never stopped).
    """
    svc = services(context)
    tg_user = update.effective_user
    with svc.db.session() as session:
        fresh = first_time(session, svc.clock, f"tg:{update.update_id}")
        blocked = None
        if fresh and tg_user is not None and not svc.is_admin(tg_user.id):
            blocked = admin_core.blocked_user(session, "telegram", str(tg_user.id))
    if not fresh:
        log.info("skipping replayed update %s", update.update_id)
        raise ApplicationHandlerStop
    if blocked is not None:
        await admin.answer_blocked(update, svc, blocked)
        raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its update and apologise to the person."""
    log.error("error while handling %s", update, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    svc = services(context)
    language = svc.settings.default_language
    tg_user = update.effective_user
    if tg_user and (tg_user.language_code or "").startswith("en"):
        language = "en"
    try:
        await update.effective_chat.send_message(svc.tr.text(language, "error.internal"))
    except Exception:  # the apology itself failed; the log has the original error
        log.exception("could not send the error apology")


def build_application(svc: Services) -> Application:
    # Opt in to PTB's coming behaviour (durations as timedelta, e.g. RetryAfter.retry_after);
    # without it PTB 22 warns on every 429, and the sender already handles timedelta.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    token = svc.settings.telegram_bot_token
    if token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = ApplicationBuilder().token(token.get_secret_value())
    if svc.settings.telegram_base_url:
        builder = builder.base_url(svc.settings.telegram_base_url)
    if svc.settings.telegram_base_file_url:
        builder = builder.base_file_url(svc.settings.telegram_base_file_url)
    # Other people's updates run while one waits on Telegram; each person's stay in order.
    builder = builder.concurrent_updates(PerChatUpdateProcessor())
    app = builder.post_init(_post_init).post_stop(_post_stop).build()
    app.bot_data[KEY] = svc
    app.add_handler(TypeHandler(Update, gate), group=-1)
    for module in (start, registration, request, officials, print, admin, privacy, reports,
                   internal, casework, broadcast, router):
        module.register(app)
    start.register_fallbacks(app)
    app.add_error_handler(on_error)
    return app


async def _post_init(app: Application) -> None:
    """Register the command menu and start delivering the outbox."""
    for language, commands in COMMANDS.items():
        await app.bot.set_my_commands(
            [BotCommand(c, d) for c, d in commands],
            language_code=None if language == "id" else language)
    await _admin_menus(app)
    await start_sender(app)
    await broadcast.start_broadcaster(app)  # resumes running broadcasts; shares the limiter


async def _admin_menus(app: Application) -> None:
    """The admins' own menu: member commands and admin commands, in each admin's chat."""
    svc: Services = app.bot_data[KEY]
    for admin_id in sorted(all_admin_ids(svc.settings)):
        for language, commands in COMMANDS.items():
            try:
                await app.bot.set_my_commands(
                    [BotCommand(c, d) for c, d in commands + ADMIN_COMMANDS[language]],
                    scope=BotCommandScopeChat(admin_id),
                    language_code=None if language == "id" else language)
            except TelegramError as exc:  # e.g. the admin has not opened the bot yet
                log.warning("no admin menu for %s: %s", admin_id, exc)
                break


async def start_sender(app: Application) -> None:
    svc: Services = app.bot_data[KEY]
    sender = OutboxSender(svc, app.bot)
    app.bot_data["sender"] = sender
    svc.kick_outbox = sender.kick
    await sender.start()
    scheduler = SlaScheduler(svc, app)
    app.bot_data["sla"] = scheduler
    svc.kick_sla = scheduler.arm
    scheduler.arm()


async def _post_stop(app: Application) -> None:
    svc: Services = app.bot_data[KEY]
    svc.kick_sla = svc.kick_outbox = None
    scheduler: SlaScheduler | None = app.bot_data.pop("sla", None)
    if scheduler is not None:
        scheduler.stop()
    await broadcast.stop_broadcaster(app)
    sender: OutboxSender | None = app.bot_data.pop("sender", None)
    if sender is not None:
        await sender.stop()


def run_polling(settings: Settings) -> None:
    """Run until Ctrl-C; PTB stops cleanly on SIGINT/SIGTERM."""
    svc = build_services(settings)
    app = build_application(svc)
    try:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    finally:
        svc.db.dispose()


@asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:
    """Run the bot with polling inside an existing event loop (demo, tests, bench)."""
    await app.initialize()
    await _post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1,
                                    allowed_updates=Update.ALL_TYPES)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await _post_stop(app)
        await app.shutdown()
