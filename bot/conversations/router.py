"""All wiring in one place: the command table, the button table, the dialog-state table.

A new command is one row in COMMANDS plus one function; a new dialog is a State (in
`dialog.py`), its rows in DIALOGS and its flow module; a new button is an Intent (in
`intents.py`) and its row in PRESSES. Menus and /bantuan are generated from COMMANDS.
"""

from __future__ import annotations

from bot.conversations import (
    admin,
    broadcast,
    casework,
    complaints,
    internal,
    linking,
    longtext,
    officials,
    printing,
    privacy,
    registration,
    reports,
    request,
    start,
    survey,
)
from bot.conversations import intents as i
from bot.conversations.dialog import State
from bot.conversations.events import Text
from bot.conversations.output import Outcome, say
from bot.conversations.table import Audience, CommandSpec, DialogFn, MessageEvent, PressFn
from bot.conversations.turn import Turn

A = Audience

COMMANDS: tuple[CommandSpec, ...] = (
    # everyone
    CommandSpec("start", start.start, menu=False),
    CommandSpec("permohonan", request.begin_command, A.MEMBER, ("request",)),
    CommandSpec("status", request.status, A.MEMBER, private=True),
    CommandSpec("batal", start.cancel, A.MEMBER, ("cancel",)),
    CommandSpec("bahasa", start.language, A.MEMBER, ("language",)),
    CommandSpec("dataku", privacy.my_data, A.MEMBER, ("mydata",), private=True),
    CommandSpec("hapus_data", privacy.erase_data, A.MEMBER, ("erase_data",), private=True),
    CommandSpec("berhenti", broadcast.unsubscribe, A.MEMBER, ("unsubscribe",)),
    CommandSpec("langganan", broadcast.subscribe, A.MEMBER, ("subscribe",)),
    CommandSpec("bantuan", start.help_command, A.MEMBER, ("help",)),
    CommandSpec("survei", survey.resume_command, A.MEMBER, ("survey",), private=True),
    CommandSpec("pengaduan", complaints.command, A.MEMBER, ("complaint",), private=True),
    CommandSpec("menu", start.menu_command, A.MEMBER, menu=False),
    # officials
    CommandSpec("tugas", officials.tasks, A.OFFICIAL, ("tasks",), private=True),
    CommandSpec("disposisi", officials.disposisi, A.OFFICIAL, private=True),
    CommandSpec("cetak", printing.cetak, A.OFFICIAL, ("print",), private=True),
    CommandSpec("mulai", internal.start_sop, A.OFFICIAL, ("start_sop",)),
    CommandSpec("dokumen", casework.documents, A.OFFICIAL, ("documents",), private=True),
    # admins
    CommandSpec("siaran", broadcast.start_broadcast, A.ADMIN, ("broadcast",)),
    CommandSpec("undang", admin.invite, A.ADMIN, ("invite",), private=True),
    CommandSpec("agenda", admin.agenda, A.ADMIN, private=True),
    CommandSpec("plt", admin.plt, A.ADMIN, ("acting",), private=True),
    CommandSpec("plt_batal", admin.plt_revoke, A.ADMIN, ("plt_revoke",)),
    CommandSpec("anggota", admin.members, A.ADMIN, ("members",), private=True),
    CommandSpec("anggota_lihat", admin.member_view, A.ADMIN, ("member",), private=True),
    CommandSpec("peran", admin.roles, A.ADMIN, ("roles",), private=True),
    CommandSpec("peran_cabut", admin.role_revoke, A.ADMIN, ("role_revoke",)),
    CommandSpec("undangan", admin.invitations, A.ADMIN, ("invitations",),
                private=True),
    CommandSpec("undangan_batal", admin.invitation_cancel, A.ADMIN, ("invitation_cancel",)),
    CommandSpec("nonaktif", admin.deactivate, A.ADMIN, ("deactivate",)),
    CommandSpec("aktif", admin.activate, A.ADMIN, ("activate",)),
    CommandSpec("laporan", reports.laporan, A.ADMIN, ("report",), private=True),
    CommandSpec("ekspor", reports.ekspor, A.ADMIN, ("export",), private=True),
    CommandSpec("skm", survey.skm_command, A.ADMIN, private=True),
)

PRESSES: dict[type[i.Intent], PressFn] = {
    i.Act: officials.on_act,
    i.Note: officials.on_note_button,
    i.Fix: officials.on_fix,
    i.Trail: officials.on_trail,
    i.Office: registration.on_office,
    i.Service: request.on_service,
    i.Draft: request.on_draft,
    i.Lang: start.on_language,
    i.StartSop: internal.on_pick,
    i.StartDraft: internal.on_confirm,
    i.DocAttach: casework.on_attach,
    i.DocSend: casework.on_send_version,
    i.Team: casework.on_team,
    i.TeamToggle: casework.on_team_toggle,
    i.TeamNext: casework.on_team_next,
    i.TeamDate: casework.on_team_date,
    i.MembersPage: admin.on_members_page,
    i.Erase: privacy.on_erase,
    i.BroadcastStep: broadcast.on_step,
    i.BroadcastPick: broadcast.on_pick,
    i.BroadcastStop: broadcast.on_stop,
    i.Link: linking.on_link,
    i.SurveyAct: survey.on_act,
    i.SurveyAnswer: survey.on_answer,
    i.SurveyProfile: survey.on_profile,
    i.ComplaintAct: complaints.on_act,
    i.ComplaintStart: complaints.on_start,
    i.ComplaintDraft: complaints.on_draft,
}


def _leave_and_idle(t: Turn, _event: MessageEvent) -> Outcome:
    """A message where the dialog expects a button: end it, say what one can do."""
    t.end()
    return start.idle(t)


S = State
DIALOGS: dict[State, DialogFn] = {
    S.REG_FULL_NAME: registration.on_message,
    S.REG_KIM_GROUP: registration.on_message,
    S.REG_VILLAGE: registration.on_message,
    S.REG_DISTRICT: registration.on_message,
    S.REG_PHONE: registration.on_message,
    S.REG_OFFICE: registration.on_message,
    S.REQ_SERVICE: request.on_message,
    S.REQ_PURPOSE: request.on_message,
    S.REQ_DOC: request.on_message,
    S.REQ_CONFIRM: request.on_message,
    S.NOTE: officials.on_note_message,
    S.FIX: officials.on_fix_message,
    S.SOP_PICK: internal.on_message,
    S.SOP_SUBJECT: internal.on_message,
    S.SOP_PURPOSE: internal.on_message,
    S.SOP_CONFIRM: internal.on_message,
    S.DOC: casework.on_doc_message,
    S.TEAM_PICK: casework.on_team_message,
    S.TEAM_DATE: casework.on_team_message,
    S.BC_CONTENT: broadcast.on_message,
    S.BC_AUDIENCE: broadcast.on_message,
    S.BC_PICK: broadcast.on_message,
    S.BC_ROLE: broadcast.on_message,
    S.BC_OFFICE: broadcast.on_message,
    S.BC_CONFIRM: broadcast.on_message,
    S.ERASE: _leave_and_idle,
    S.SURVEY_SUGGESTION: survey.on_message,
    S.COMPLAINT_TEXT: complaints.on_message,
    S.COMPLAINT_FILE: complaints.on_message,
    S.COMPLAINT_ANSWER: complaints.on_message,
}
assert set(DIALOGS) == set(State), f"states without a flow: {set(State) - set(DIALOGS)}"

_BY_NAME: dict[str, CommandSpec] = {name: spec for spec in COMMANDS for name in spec.names}


def command(name: str) -> CommandSpec | None:
    return _BY_NAME.get(name.lower())


def on_message(t: Turn, event: MessageEvent) -> Outcome:
    """Hand a message to whichever guided conversation the sender is in."""
    if not t.sender.private:
        return Outcome()  # chatter in a group is not for us
    dialog = t.dialog()
    if dialog is None:
        return start.idle(t)
    try:
        state = State(dialog.state)
    except ValueError:  # a state an older version left behind
        t.end()
        return start.idle(t)
    if isinstance(event, Text) and longtext.is_tail(t, dialog):
        return say(t.t("error.tail_ignored"))
    return DIALOGS[state](t, event)
