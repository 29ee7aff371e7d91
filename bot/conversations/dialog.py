"""Dialog states (one enum for every guided conversation) and their typed data.

The state and its data live in the `dialog` table, so a conversation survives restarts
and any process may take the next message. The values are the strings stored before this
enum existed, so a database made by an older version keeps its open dialogs.
Which flow handles each state is the table in `router.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, ConfigDict


class State(StrEnum):
    # registration (registration.py)
    REG_FULL_NAME = "reg_full_name"
    REG_KIM_GROUP = "reg_kim_group"
    REG_VILLAGE = "reg_village"
    REG_DISTRICT = "reg_district"
    REG_PHONE = "reg_phone"
    REG_OFFICE = "reg_office"
    # a member's request (request.py)
    REQ_SERVICE = "req_service"
    REQ_PURPOSE = "req_purpose"
    REQ_DOC = "req_doc"
    REQ_CONFIRM = "req_confirm"
    # officials' notes and members' corrections (officials.py)
    NOTE = "note"
    FIX = "fix"
    # /mulai: an internal SOP (internal.py)
    SOP_PICK = "sop_pick"
    SOP_SUBJECT = "sop_subject"
    SOP_PURPOSE = "sop_purpose"
    SOP_CONFIRM = "sop_confirm"
    # working document and field team (casework.py)
    DOC = "doc"
    TEAM_PICK = "team_pick"
    TEAM_DATE = "team_date"
    # /siaran (broadcast.py)
    BC_CONTENT = "bc_content"
    BC_AUDIENCE = "bc_audience"
    BC_PICK = "bc_pick"
    BC_ROLE = "bc_role"
    BC_OFFICE = "bc_office"
    BC_CONFIRM = "bc_confirm"
    # /hapus_data (privacy.py)
    ERASE = "erase"
    # the SKM survey's suggestion (survey.py)
    SURVEY_SUGGESTION = "survey_suggestion"
    # complaints (complaints.py)
    COMPLAINT_TEXT = "complaint_text"
    COMPLAINT_FILE = "complaint_file"
    COMPLAINT_ANSWER = "complaint_answer"


class DialogData(BaseModel):
    """Base of every dialog's data: validated when loaded, unknown keys kept (old rows)."""

    model_config = ConfigDict(extra="allow")


D = TypeVar("D", bound=DialogData)


def load(model: type[D], raw: dict[str, object]) -> D:
    return model.model_validate(raw)


def dump(data: DialogData | dict[str, object]) -> dict[str, object]:
    if isinstance(data, DialogData):
        return data.model_dump(mode="json")
    return dict(data)
