"""SOPs as data: the model, the Waktu parser and the validating loader."""

from bot.sop.loader import SopError, load_sop_dir, load_sop_file
from bot.sop.model import Action, ActionKind, NoteRule, Office, Sop, Step, StepRef
from bot.sop.registry import SopRegistry
from bot.sop.waktu import Duration, TimeUnit, parse_waktu

__all__ = [
    "Action",
    "ActionKind",
    "Duration",
    "NoteRule",
    "Office",
    "Sop",
    "SopError",
    "SopRegistry",
    "Step",
    "StepRef",
    "TimeUnit",
    "load_sop_dir",
    "load_sop_file",
    "parse_waktu",
]
