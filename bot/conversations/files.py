"""Files a person sends: which we accept (type, size) and how a flow receives them."""

from __future__ import annotations

from bot import clean
from bot.conversations.events import File, Unsupported
from bot.conversations.table import MessageEvent
from bot.conversations.turn import Turn
from bot.errors import BadInput
from bot.workflow import FileIn

PHOTO_MIME = "image/jpeg"


def file_in(t: Turn, event: MessageEvent) -> FileIn | None:
    """The photo or document in `event`; None when it carries none.

    Raises BadInput for a file we do not accept (type or size) and for media we never take.
    """
    if isinstance(event, Unsupported):
        raise BadInput("error.file_type")
    if not isinstance(event, File):
        return None
    max_mb = t.svc.settings.max_file_mb
    if event.kind not in ("photo", "document"):
        raise BadInput("error.file_type")
    if event.size > max_mb * 1024 * 1024:
        raise BadInput("error.file_too_big", limit=max_mb)
    # The declared type and name are the sender's word: the stored bytes decide.
    mime = _sniffed(t, event)
    if mime is None or (event.kind == "photo" and mime not in (clean.JPEG, clean.PNG)):
        raise BadInput("error.file_type")
    photo = event.kind == "photo"
    name = clean.file_name(event.name or ("foto.jpg" if photo else ""), mime)
    return FileIn(kind=event.kind, file_ref=event.ref, file_name=name, mime=mime,
                  size=event.size, blob=event.blob, channel=t.sender.channel)


def _sniffed(t: Turn, event: File) -> str | None:
    """The type of the file's stored bytes; None when empty, unknown or never fetched."""
    if not event.blob or event.size <= 0:
        raise BadInput("error.file_empty") if event.blob else BadInput("error.file_type")
    try:
        with t.svc.files.path(event.blob).open("rb") as handle:
            head = handle.read(65536)
    except (OSError, ValueError):
        return None
    if not head:
        raise BadInput("error.file_empty")
    return clean.sniff_declared(head, event.mime, event.name)


def as_dict(file: FileIn, label: str) -> dict[str, object]:
    """A file as kept in dialog data until the flow submits it."""
    return {"kind": file.kind, "file_ref": file.file_ref, "file_name": file.file_name,
            "mime": file.mime, "size": file.size, "label": label, "blob": file.blob,
            "channel": file.channel}


def from_dict(data: dict[str, object]) -> FileIn:
    known = {"kind", "file_ref", "file_name", "mime", "size", "label", "blob", "channel"}
    return FileIn(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]
