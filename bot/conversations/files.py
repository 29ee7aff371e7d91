"""Files a person sends: which we accept (type, size) and how a flow receives them."""

from __future__ import annotations

from bot.conversations.events import File, Unsupported
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput
from bot.workflow import FileIn

PHOTO_MIME = "image/jpeg"
DOCUMENT_MIMES = {
    "application/pdf",
    "image/jpeg",
    "image/png",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def file_in(t: Turn, event: MessageEvent) -> FileIn | None:
    """The photo or document in `event`; None when it carries none.

    Raises BadInput for a file we do not accept (type or size) and for media we never take.
    """
    if isinstance(event, Unsupported):
        raise BadInput("error.file_type")
    if not isinstance(event, File):
        return None
    max_mb = t.svc.settings.max_file_mb
    if event.kind == "document" and event.mime not in DOCUMENT_MIMES:
        raise BadInput("error.file_type")
    if event.kind not in ("photo", "document"):
        raise BadInput("error.file_type")
    if event.size > max_mb * 1024 * 1024:
        raise BadInput("error.file_too_big", limit=max_mb)
    photo = event.kind == "photo"
    return FileIn(kind=event.kind, file_ref=event.ref,
                  file_name=event.name or ("foto.jpg" if photo else ""),
                  mime=event.mime or (PHOTO_MIME if photo else ""), size=event.size,
                  blob=event.blob, channel=t.sender.channel)


def as_dict(file: FileIn, label: str) -> dict[str, object]:
    """A file as kept in dialog data until the flow submits it."""
    return {"kind": file.kind, "file_ref": file.file_ref, "file_name": file.file_name,
            "mime": file.mime, "size": file.size, "label": label, "blob": file.blob,
            "channel": file.channel}


def from_dict(data: dict[str, object]) -> FileIn:
    known = {"kind", "file_ref", "file_name", "mime", "size", "label", "blob", "channel"}
    return FileIn(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]
