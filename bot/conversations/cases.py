"""Finding a case someone names by its agenda number: authorised before anything is shown."""

from __future__ import annotations

from bot.conversations.turn import Turn
from bot.errors import NotAllowed, NotFound
from bot.models import Case
from bot.queries import find_case_by_agenda


def visible_case(t: Turn, agenda: str) -> Case:
    """The case of `agenda` if this person may see it; refused (translated) otherwise."""
    case = find_case_by_agenda(t.session, agenda)
    if case is None or case.id is None:
        raise NotFound("print.not_found", agenda=agenda)
    if not t.svc.workflow.may_view(t.session, case, t.user):
        raise NotAllowed()
    return case
