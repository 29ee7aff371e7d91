"""Render a core `Outcome` on WhatsApp, within its limits.

WhatsApp cannot edit a message: an edit's text goes out as a new message, an appended
line ("✅ …") as a short new message, a bare "remove the buttons" is dropped (the case
version still refuses a stale press). Up to 3 buttons with short labels become reply
buttons; more, or longer labels, a list message (rows of 10; more rows: more lists). A
press's answer (an alert on Telegram) is a text message. Nothing asks for the phone:
WhatsApp gives us the sender's number.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import weakref
from dataclasses import dataclass, field
from typing import Any

import httpx
from pywa_async import WhatsApp
from pywa_async.errors import WhatsAppError

from bot.conversations.output import Buttons, Message, Outcome, OutFile, clip
from bot.services import Services
from handlers.telegram.rawapi import NoAnswer, NotSent, Pool, http_request, origin_of, proxied
from handlers.whatsapp import files

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # interactive messages and captions
BUTTONS_MAX = 3
BUTTON_TITLE = 20
ROWS_MAX = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
LIST_BUTTON = "Pilih / Choose"  # ≤ 20 characters; the list's own button
NO_TEXT = "👆"  # an interactive message must have a body; an edit of the buttons alone has none
SEPARATOR = " — "  # "name — description" labels (the menu) split into title and description


@dataclass
class Out:
    """One WhatsApp message: a text, reply buttons or list rows (id, title, description),
    or one file."""

    text: str = ""
    buttons: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    file: OutFile | None = None


def shorten(label: str, limit: int) -> str:
    """`label` within `limit` characters, cut at a word where one is near."""
    label = " ".join(label.split())
    if len(label) <= limit:
        return label
    cut = label[: limit - 1]
    space = cut.rfind(" ")
    if label[limit - 1] != " " and space >= limit // 2:  # else the cut ends a word
        cut = cut[:space]
    return cut.rstrip(" ,.;:-—") + "…"


def keep_tail(label: str, limit: int) -> str:
    """`label` within `limit` keeping its last word: labels that differ only at the end
    ("Dinas … Lumajang", "Dinas … Kolaka") stay apart."""
    label = " ".join(label.split())
    if len(label) <= limit:
        return label
    tail = label.split()[-1][: limit // 2]
    head = label[: max(1, limit - len(tail) - 2)].rstrip(" ,.;:-—")
    return f"{head}… {tail}"


def _distinct(titles: list[str], labels: list[str], limit: int) -> list[str]:
    """Titles that came out the same after shortening get their labels' tails back."""
    return [keep_tail(label, limit) if titles.count(title) > 1 else title
            for title, label in zip(titles, labels, strict=True)]


def _row(label: str) -> tuple[str, str]:
    """(title, description) of a list row for a button label."""
    title, sep, rest = label.partition(SEPARATOR)
    if sep and len(title) <= ROW_TITLE:
        return title, shorten(rest, ROW_DESCRIPTION)
    if len(label) <= ROW_TITLE:
        return label, ""
    return shorten(label, ROW_TITLE), shorten(label, ROW_DESCRIPTION)


def plan_buttons(text: str, rows: Buttons) -> list[Out]:
    """A text with buttons as reply buttons or list messages (a long text goes first)."""
    flat = [b for row in rows for b in row]
    outs: list[Out] = []
    body = text.strip() or NO_TEXT
    if len(body) > BODY_LIMIT:
        outs.append(Out(clip(body, TEXT_LIMIT)))
        lines = [line for line in body.splitlines() if line.strip()]
        body = shorten(lines[-1], BODY_LIMIT) if lines else NO_TEXT
    fits = all(len(b.label) <= BUTTON_TITLE for b in flat)
    if len(flat) <= BUTTONS_MAX and fits:
        outs.append(Out(body, buttons=[(b.intent.encode(), b.label) for b in flat]))
        return outs
    chunks = [flat[i:i + ROWS_MAX] for i in range(0, len(flat), ROWS_MAX)]
    for number, chunk in enumerate(chunks, 1):
        page = body if len(chunks) == 1 else clip(f"{body} ({number}/{len(chunks)})",
                                                  BODY_LIMIT)
        parts = [_row(b.label) for b in chunk]
        titles = _distinct([t for t, _ in parts], [b.label for b in chunk], ROW_TITLE)
        outs.append(Out(page, rows=[(b.intent.encode(), title, desc) for b, title, (_, desc)
                                    in zip(chunk, titles, parts, strict=True)]))
    return outs


def plan_message(message: Message) -> list[Out]:
    """Files first (each with its caption), then the text (with its buttons)."""
    outs = [Out(file=item) for item in message.files]
    if message.buttons:
        outs += plan_buttons(message.text, message.buttons)
    elif message.text:
        outs.append(Out(clip(message.text, TEXT_LIMIT)))
    return outs


def plan(outcome: Outcome) -> list[Out]:
    """Everything an outcome shows, as WhatsApp messages in order."""
    outs: list[Out] = []
    if outcome.answer:
        outs.append(Out(clip(outcome.answer, TEXT_LIMIT)))
    change = outcome.edit
    if change is not None:
        if change.text is not None:
            outs += plan_message(Message(change.text, change.buttons))
        elif change.append:
            outs += plan_message(Message(change.append, change.buttons))
        elif change.buttons:
            outs += plan_buttons("", change.buttons)
    for message in outcome.messages:
        outs += plan_message(message)
    return outs


# =============================================================== the requests


def payload(out: Out) -> tuple[str, dict[str, Any]]:
    """(type, object) of a text or interactive message, as the Cloud API takes them."""
    if out.buttons:
        return "interactive", {"type": "button", "body": {"text": out.text}, "action": {
            "buttons": [{"type": "reply", "reply": {"id": data, "title": title}}
                        for data, title in out.buttons]}}
    if out.rows:
        rows = [{"id": data, "title": title, **({"description": d} if d else {})}
                for data, title, d in out.rows]
        return "interactive", {"type": "list", "body": {"text": out.text}, "action": {
            "button": LIST_BUTTON, "sections": [{"title": shorten(LIST_BUTTON, ROW_TITLE),
                                                 "rows": rows}]}}
    return "text", {"body": out.text, "preview_url": False}


class Graph:
    """Graph API message posts on the project's keep-alive client (`rawapi.Pool`).

    Why: pywa sends through httpx, whose client and connection pool cost several times the
    CPU of the request itself; a WhatsApp turn sends one or more messages. Answers and
    failures look as they do through pywa: `WhatsAppError` from pywa's own parsing of an
    error answer, httpx's `ConnectError`/`ConnectTimeout` when nothing left, `ReadError`/
    `ReadTimeout` when it may have arrived (`handlers.whatsapp.delivery.classify`).
    """

    TIMEOUT_S = 5.0  # as pywa's httpx client
    POOL_SIZE = 100

    def __init__(self, wa: WhatsApp) -> None:
        api: Any = wa.api
        session = api._session
        self.extract_error = api._extract_error  # pywa's reading of an error answer
        self.base = str(session.base_url).rstrip("/")
        self.path = f"/{wa.phone_id}/messages"
        self.origin, target, self.host = origin_of(self.base + self.path)
        self.target = target
        self.headers = [f"Authorization: {session.headers['authorization']}",
                        f"User-Agent: {session.headers.get('user-agent', 'KIM-Bot')}",
                        "Content-Type: application/json"]
        self.pool = Pool(self.POOL_SIZE)

    @staticmethod
    def usable(wa: WhatsApp) -> bool:
        """Only for pywa's own client (a test's custom transport or a proxy keep httpx)."""
        session: Any = wa.api._session
        transport = getattr(session, "_transport", None)
        return type(transport) is httpx.AsyncHTTPTransport and not proxied(
            str(session.base_url))

    async def send(self, data: dict[str, Any]) -> dict[str, Any]:
        """Post one message object; the Graph API's answer."""
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        request = http_request("POST", self.target, self.host, self.headers, body)
        limit = self.TIMEOUT_S
        try:
            status, answer = await self.pool.exchange(self.origin, request, read_s=limit,
                                                      write_s=limit, connect_s=limit,
                                                      pool_s=limit)
        except NotSent as exc:
            timed_out = isinstance(exc.__cause__, TimeoutError)
            raise (httpx.ConnectTimeout if timed_out else httpx.ConnectError)(str(exc)) from exc
        except NoAnswer as exc:
            timed_out = isinstance(exc.__cause__, TimeoutError)
            raise (httpx.ReadTimeout if timed_out else httpx.ReadError)(str(exc)) from exc
        if status >= 400:
            response = httpx.Response(status, content=answer,
                                      request=httpx.Request("POST", self.base + self.path))
            raise WhatsAppError.from_dict(error=self.extract_error(response),
                                          response=response)
        result: dict[str, Any] = json.loads(answer)
        return result


_graphs: weakref.WeakKeyDictionary[WhatsApp, Graph] = weakref.WeakKeyDictionary()


def close(wa: WhatsApp) -> None:
    """Close the keep-alive connections of `wa`'s message posts (on shutdown)."""
    graph = _graphs.pop(wa, None)
    if graph is not None:
        graph.pool.close()


async def post(wa: WhatsApp, to: str, typ: str, msg: dict[str, Any]) -> str:
    """One message through the Graph API; its id (wamid)."""
    graph = _graphs.get(wa)
    if graph is None and Graph.usable(wa):
        graph = _graphs[wa] = Graph(wa)
    if graph is not None:
        answer = await graph.send({"messaging_product": "whatsapp",
                                   "recipient_type": "individual", "to": to, "type": typ,
                                   typ: msg})
    else:
        answer = await wa.api.send_message(sender=str(wa.phone_id), to=to, recipient=None,
                                           recipient_type="individual", typ=typ, msg=msg)
    messages = answer.get("messages") or [{}]
    return str(messages[0].get("id", ""))


async def send_out(wa: WhatsApp, svc: Services, to: str, out: Out) -> tuple[str, str]:
    """Send one planned message; (wamid, media id of a file uploaded now, else "")."""
    if out.file is None:
        typ, msg = payload(out)
        return await post(wa, to, typ, msg), ""
    return await send_file(wa, svc, to, out.file)


async def send_file(wa: WhatsApp, svc: Services, to: str, item: OutFile) -> tuple[str, str]:
    """A photo or document: by a media id we have, else uploaded from our store."""
    uploaded = ""
    if item.make is not None:
        data = await asyncio.to_thread(item.make)  # reports and PDFs take a moment
        media_id = uploaded = await upload(wa, item, data)
    else:
        media_id, stored = await files.media_for(svc, item)
        if stored is not None:
            media_id = uploaded = await upload(wa, item, stored)
            files.remember(svc, item, media_id)
    typ = "image" if item.kind == "photo" else "document"
    body: dict[str, Any] = {"id": media_id}
    if item.caption:
        body["caption"] = clip(item.caption, BODY_LIMIT)
    if typ == "document" and item.name:
        body["filename"] = item.name
    return await post(wa, to, typ, body), uploaded


def mime_of(item: OutFile) -> str:
    if item.kind == "photo":
        return "image/jpeg"
    return mimetypes.guess_type(item.name or "")[0] or "application/octet-stream"


async def upload(wa: WhatsApp, item: OutFile, data: bytes) -> str:
    answer = await wa.api.upload_media(phone_id=str(wa.phone_id), media=data,
                                       mime_type=mime_of(item),
                                       filename=item.name or "file")
    return str(answer["id"])


async def render(wa: WhatsApp, svc: Services, to: str, outcome: Outcome) -> None:
    """Show `outcome` to the person who wrote (`to`: their WhatsApp id)."""
    for out in plan(outcome):
        await send_out(wa, svc, to, out)
