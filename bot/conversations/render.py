"""Turn core results (message keys, plain rows) into text and buttons, for any channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date

from bot.casework import TeamLine
from bot.clock import from_db
from bot.conversations import intents
from bot.conversations.output import Button, Buttons, clip
from bot.i18n import Translator
from bot.models import Case, Notification
from bot.queries import CaseLine, TrailLine
from bot.sop import Action, SopRegistry, parse_waktu


def waktu_text(tr: Translator, lang: str, waktu: str) -> str:
    """'2 hari' → '2 hari kerja' / '2 working days'."""
    try:
        duration = parse_waktu(waktu)
    except ValueError:
        return waktu
    return tr.text(lang, f"waktu.{duration.unit.value}", n=duration.amount)


def span_text(tr: Translator, lang: str, span: timedelta) -> str:
    """Office time as '1 jam 20 menit' / '1 h 20 min' (sign dropped)."""
    minutes = int(abs(span.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return tr.text(lang, "span.hours_minutes", h=hours, m=minutes)
    if hours:
        return tr.text(lang, "span.hours", h=hours)
    return tr.text(lang, "span.minutes", m=minutes)


def roles_text(tr: Translator, lang: str, roles: Sequence[str]) -> str:
    return " / ".join(tr.role(lang, r) for r in roles)


def action_label(tr: Translator, lang: str, action: Action) -> str:
    return action.label.get(lang) or action.label.get("id") or tr.text(
        lang, f"action.{action.kind.value}")


def action_rows(
    tr: Translator, lang: str, registry: SopRegistry, sop_code: str, step_no: int,
    case_id: int, version: int, codes: Sequence[str],
) -> Buttons:
    sop = registry.get(sop_code)
    rows: Buttons = []
    if sop is not None:
        step = sop.step(step_no)
        for code in codes:
            action = step.action(code)
            if action is not None:
                rows.append([Button(action_label(tr, lang, action),
                                    intents.Act(case_id, version, code))])
        if codes and step.document:  # the working document of this step
            rows.append([Button(tr.text(lang, "button.attach_document"),
                                intents.DocAttach(case_id, version))])
        if codes and step.assigns_team:
            rows.append([Button(tr.text(lang, "button.team"), intents.Team(case_id, version))])
    rows.append([Button(tr.text(lang, "button.trail"), intents.Trail(case_id))])
    return rows


def notification(
    tr: Translator, lang: str, registry: SopRegistry, row: Notification, case: Case | None,
) -> tuple[str, Buttons]:
    """Text and buttons for one outbox row, in the recipient's language."""
    params: dict[str, Any] = dict(row.params)
    office = registry.offices.get(str(params.get("office", "")))
    zone = office.timezone if office else "Asia/Jakarta"
    for name, value in list(params.items()):
        if name.endswith("_at") and isinstance(value, str):
            params[name] = tr.when(lang, datetime.fromisoformat(value), zone) if value else "-"
    if "waktu" in params:
        params["waktu"] = waktu_text(tr, lang, str(params["waktu"]))
    if isinstance(params.get("items"), list):
        params["items"] = "\n".join(f"• {item}" for item in params["items"])
    more = params.get("more")
    params["more_line"] = tr.text(lang, "line.more", count=more) if more else ""
    params["due_line"] = (tr.text(lang, "line.due", waktu=params["waktu"], due=params["due_at"])
                          if params.get("due_at") not in (None, "", "-") else "")
    if "roles" in params:
        params["roles"] = roles_text(tr, lang, params["roles"])
    if "by_role" in params:
        params["by_role"] = tr.role(lang, str(params["by_role"]))
    note = str(params.get("note") or "")
    params["note_line"] = tr.text(lang, "line.note", note=note) if note else ""
    if params.get("duty_date"):
        params["duty_date"] = day_text(lang, str(params["duty_date"]))
    text = tr.text(lang, row.key, **params)
    if isinstance(params.get("team"), list) and params["team"]:
        text += team_line(tr, lang, [str(n) for n in params["team"]],
                          str(params.get("duty_date", "")))
    text = clip(text)
    rows: Buttons = []
    if case is not None and row.case_id is not None and row.case_version is not None:
        if row.actions == ["fix"]:
            rows = [[Button(tr.text(lang, "button.fix"),
                            intents.Fix(row.case_id, row.case_version))]]
        elif row.actions:
            step_no = int(params.get("step_no", case.step_no))
            rows = action_rows(tr, lang, registry, case.sop_code, step_no, row.case_id,
                               row.case_version, row.actions)
        else:
            rows = [[Button(tr.text(lang, "button.trail"), intents.Trail(row.case_id))]]
    # Buttons the row names itself: [label key, intent string] (survey, complaints).
    for label, data in params.get("buttons") or []:
        intent = intents.parse(str(data))
        if intent is not None:
            rows.append([Button(tr.text(lang, str(label)), intent)])
    return text, rows


def day_text(lang: str, day: date | str) -> str:
    """'2026-11-30' → 'Senin, 30 November 2026' / 'Monday, 30 November 2026'."""
    if isinstance(day, str):
        try:
            return day_text(lang, date.fromisoformat(day))
        except ValueError:
            return day
    return format_date(day, "EEEE, d MMMM y", locale=lang)


def team_line(tr: Translator, lang: str, names: Sequence[str], duty: date | str) -> str:
    """'\n👥 Tim: Andi, Budi — bertugas Senin, 30 November 2026' (empty without a team)."""
    if not names:
        return ""
    return tr.text(lang, "line.team", names=", ".join(names),
                   date=day_text(lang, duty) if duty else "-")


def case_line(tr: Translator, lang: str, registry: SopRegistry, line: CaseLine) -> str:
    zone = registry.offices[line.office].timezone
    status = tr.text(lang, f"status.{line.status}")
    team = team_line(tr, lang, line.team, line.team_date or "")
    if line.status == "finished":
        return tr.text(lang, "line.case_finished", agenda=line.agenda, subject=line.subject,
                       status=status, since=tr.when(lang, line.since, zone)) + team
    if line.status == "with_requester":
        return tr.text(lang, "line.case_with_requester", agenda=line.agenda,
                       subject=line.subject, status=status, step_no=line.step_no,
                       since=tr.when(lang, line.since, zone))
    holders = ", ".join(line.holder_names) or "-"
    timing = ""
    if line.remaining is not None:
        key = "line.remaining" if line.remaining.total_seconds() >= 0 else "line.late"
        timing = "\n" + tr.text(lang, key, span=span_text(tr, lang, line.remaining))
    text = tr.text(
        lang, "line.case", agenda=line.agenda, subject=line.subject, status=status,
        step_no=line.step_no, activity=line.activity,
        roles=roles_text(tr, lang, line.roles), holders=holders,
        since=tr.when(lang, line.since, zone),
    )
    return text + timing + team


def trail_text(
    tr: Translator, lang: str, registry: SopRegistry, case: Case, lines: list[TrailLine],
    attachments: int, team: Sequence[TeamLine] = (),
) -> str:
    office = registry.offices[case.office]
    sop = registry.get(case.sop_code)
    parts = [tr.text(
        lang, "trail.header", office=office.name, agenda=case.agenda_number,
        received=tr.when(lang, from_db(case.created_at), office.timezone),
        subject=case.subject, purpose=case.purpose, sop=sop.name if sop else case.sop_code,
        status=tr.text(lang, f"status.{case.status}"), attachments=attachments,
    )]
    if team:  # the field team assigned to the case (seed 001, step 11)
        parts[0] = parts[0].rstrip("\n") + team_line(
            tr, lang, [m.name for m in team], team[0].duty_date) + "\n"
    for line in lines:
        role = tr.role(lang, line.role) if line.role != "pemohon" else tr.text(
            lang, "role.pemohon")
        parts.append(tr.text(
            lang, "trail.line", step_no=line.step_no, when=tr.when(lang, line.at, office.timezone),
            actor=line.actor, role=role, action=tr.text(lang, f"kind.{line.kind}"),
            note_line=tr.text(lang, "line.note", note=line.note) if line.note else "",
        ))
    return clip("\n".join(parts))
