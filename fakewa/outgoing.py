"""Check a bot's ``POST /messages`` body like Meta does and turn it into a ``WaMessage``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakewa.models import JSONDict, StoredMedia, Template, WaError, WaMessage, invalid

MAX_TEXT = 4096
MAX_BODY = 1024
MAX_CAPTION = 1024
MAX_HEADER = 60
MAX_FOOTER = 60
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_BUTTON = 20
MAX_SECTIONS = 10
MAX_ROWS = 10
MAX_SECTION_TITLE = 24
MAX_ROW_TITLE = 24
MAX_ROW_ID = 200
MAX_ROW_DESCRIPTION = 72

MEDIA_KINDS = ("image", "document", "video", "audio", "sticker")
# Meta's size limits per media type (bytes).
MEDIA_LIMITS = {
    "image": 5 * 1024 * 1024,
    "document": 100 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "audio": 16 * 1024 * 1024,
    "sticker": 500 * 1024,
}
FREE_FORM_EXEMPT = frozenset({"template"})
SUPPORTED_TYPES = frozenset(
    {"text", "interactive", "template", "reaction", "contacts", "location", *MEDIA_KINDS}
)

MediaLookup = Callable[[str], StoredMedia | None]


def _obj(payload: JSONDict, key: str, where: str) -> JSONDict:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise WaError(131008, f"Parameter '{where}' is required and must be an object.")
    return value


def _text(value: Any, where: str, limit: int, *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise WaError(131008, f"The parameter {where} is required.")
        return None
    if not isinstance(value, str):
        raise invalid(f"Param {where} must be a string.")
    if len(value) > limit:
        raise invalid(f"Param {where} must be at most {limit} characters long.")
    return value


def parse(
    payload: JSONDict,
    *,
    msg: WaMessage,
    media: MediaLookup,
    templates: dict[tuple[str, str], Template] | None,
) -> None:
    """Fill ``msg`` from ``payload`` or raise ``WaError`` for what Meta would refuse."""
    kind = msg.kind
    if kind not in SUPPORTED_TYPES:
        allowed = ", ".join(sorted(SUPPORTED_TYPES))
        raise invalid(f'Param type must be one of {{{allowed}}} - got "{kind}".')
    context = payload.get("context")
    if isinstance(context, dict) and context.get("message_id"):
        msg.reply_to = str(context["message_id"])
    body = payload.get(kind)
    if kind == "text":
        text = _obj(payload, "text", "text")
        msg.text = _text(text.get("body"), "text['body']", MAX_TEXT)
    elif kind == "interactive":
        _interactive(_obj(payload, "interactive", "interactive"), msg, media)
    elif kind in MEDIA_KINDS:
        _media(_obj(payload, kind, kind), kind, msg, media)
    elif kind == "template":
        _template(_obj(payload, "template", "template"), msg, templates)
    elif kind == "reaction":
        reaction = _obj(payload, "reaction", "reaction")
        if not reaction.get("message_id"):
            raise WaError(131008, "The parameter reaction['message_id'] is required.")
        msg.reply_to = str(reaction["message_id"])
        msg.emoji = str(reaction.get("emoji") or "")
    elif not isinstance(body, (dict, list)):
        raise WaError(131008, f"The parameter {kind} is required.")


def _header(header: JSONDict, msg: WaMessage, media: MediaLookup) -> None:
    htype = header.get("type")
    if htype == "text":
        msg.header = _text(header.get("text"), "interactive['header']['text']", MAX_HEADER)
    elif htype in ("image", "document", "video"):
        part = header.get(str(htype))
        if not isinstance(part, dict):
            raise WaError(131008, f"The parameter interactive['header']['{htype}'] is required.")
        _media_ref(part, str(htype), msg, media)
    else:
        raise invalid(
            "Param interactive['header']['type'] must be one of {text, image, video, document}."
        )


def _interactive(inter: JSONDict, msg: WaMessage, media: MediaLookup) -> None:
    itype = inter.get("type")
    msg.interactive_type = str(itype) if itype is not None else None
    action = _obj(inter, "action", "interactive['action']")
    body = inter.get("body")
    msg.text = _text(
        body.get("text") if isinstance(body, dict) else None,
        "interactive['body']['text']",
        MAX_BODY,
        required=itype in ("button", "list", "cta_url"),
    )
    footer = inter.get("footer")
    if isinstance(footer, dict):
        msg.footer = _text(footer.get("text"), "interactive['footer']['text']", MAX_FOOTER)
    header = inter.get("header")
    if isinstance(header, dict):
        if itype == "list" and header.get("type") != "text":
            raise invalid("Param interactive['header']['type'] must be text for list messages.")
        _header(header, msg, media)
    if itype == "button":
        _reply_buttons(action, msg)
    elif itype == "list":
        _list(action, msg)
    elif itype == "cta_url":
        params = action.get("parameters")
        if not isinstance(params, dict) or not params.get("url"):
            raise WaError(131008, "The parameter interactive['action']['parameters'] is required.")
        msg.link = str(params["url"])
        msg.list_button = _text(params.get("display_text"), "display_text", MAX_BUTTON_TITLE)
    else:
        raise invalid(
            "Param interactive['type'] must be one of {button, list, cta_url, product, "
            f'product_list, flow, location_request_message}} - got "{itype}".'
        )


def _reply_buttons(action: JSONDict, msg: WaMessage) -> None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise WaError(131008, "The parameter interactive['action']['buttons'] is required.")
    if len(buttons) > MAX_BUTTONS:
        raise WaError(131009, f"Number of buttons invalid. Min: 1, Max: {MAX_BUTTONS}.")
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply":
            raise invalid("Param interactive['action']['buttons'][]['type'] must be reply.")
        title = reply.get("title")
        if not isinstance(title, str) or not 1 <= len(title) <= MAX_BUTTON_TITLE:
            raise WaError(
                131009,
                f"Button title length invalid. Min length: 1, Max length: {MAX_BUTTON_TITLE}",
            )
        bid = reply.get("id")
        if not isinstance(bid, str) or not 1 <= len(bid) <= MAX_BUTTON_ID:
            raise WaError(
                131009, f"Button id length invalid. Min length: 1, Max length: {MAX_BUTTON_ID}"
            )
        msg.buttons.append((bid, title))
    if len({b for b, _ in msg.buttons}) != len(msg.buttons):
        raise WaError(131009, "Duplicate buttons ids are not allowed.")
    if len({t for _, t in msg.buttons}) != len(msg.buttons):
        raise WaError(131009, "Duplicate buttons titles are not allowed.")


def _list(action: JSONDict, msg: WaMessage) -> None:
    msg.list_button = _text(
        action.get("button"), "interactive['action']['button']", MAX_LIST_BUTTON
    )
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        raise WaError(131008, "The parameter interactive['action']['sections'] is required.")
    if len(sections) > MAX_SECTIONS:
        raise WaError(131009, f"Too many sections. Max: {MAX_SECTIONS}.")
    for section in sections:
        if not isinstance(section, dict):
            raise invalid("Param interactive['action']['sections'][] must be an object.")
        _text(
            section.get("title"),
            "interactive['action']['sections'][]['title']",
            MAX_SECTION_TITLE,
            required=len(sections) > 1,
        )
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise WaError(131008, "The parameter sections[]['rows'] is required.")
        for row in rows:
            if not isinstance(row, dict):
                raise invalid("Param rows[] must be an object.")
            title = row.get("title")
            if not isinstance(title, str) or not 1 <= len(title) <= MAX_ROW_TITLE:
                raise WaError(
                    131009, f"Row title length invalid. Min length: 1, Max length: {MAX_ROW_TITLE}"
                )
            rid = row.get("id")
            if not isinstance(rid, str) or not 1 <= len(rid) <= MAX_ROW_ID:
                raise WaError(
                    131009, f"Row id length invalid. Min length: 1, Max length: {MAX_ROW_ID}"
                )
            _text(
                row.get("description"), "rows[]['description']", MAX_ROW_DESCRIPTION, required=False
            )
            msg.buttons.append((rid, title))
    if len(msg.buttons) > MAX_ROWS:
        raise WaError(131009, f"Total row count exceed max allowed count: {MAX_ROWS}")
    if len({r for r, _ in msg.buttons}) != len(msg.buttons):
        raise WaError(131009, "Row ids must be unique across all sections.")


def _media_ref(part: JSONDict, kind: str, msg: WaMessage, media: MediaLookup) -> None:
    media_id, link = part.get("id"), part.get("link")
    if bool(media_id) == bool(link):
        raise WaError(131008, f"Exactly one of {kind}['id'] or {kind}['link'] is required.")
    if link:
        msg.link = str(link)
        return
    stored = media(str(media_id))
    if stored is None or stored.deleted:
        raise WaError(131053, f"Unable to retrieve media with id {media_id}.")
    if stored.file_size > MEDIA_LIMITS.get(kind, MEDIA_LIMITS["document"]):
        raise WaError(131053, f"{kind} file is too big ({stored.file_size} bytes).")
    msg.media_id = stored.id
    msg.mime_type = stored.mime_type
    msg.media_bytes = stored.data
    if msg.filename is None:
        msg.filename = stored.filename if kind == "document" else None


def _media(part: JSONDict, kind: str, msg: WaMessage, media: MediaLookup) -> None:
    if kind in ("image", "document", "video"):
        msg.caption = _text(part.get("caption"), f"{kind}['caption']", MAX_CAPTION, required=False)
    elif part.get("caption"):
        raise invalid(f"Param {kind}['caption'] is not supported for {kind} messages.")
    if kind == "document" and part.get("filename"):
        msg.filename = str(part["filename"])
    _media_ref(part, kind, msg, media)


def _param_value(param: JSONDict) -> str:
    ptype = param.get("type")
    value = param.get(str(ptype)) if ptype else None
    if ptype in ("currency", "date_time") and isinstance(value, dict):
        return str(value.get("fallback_value", ""))
    if isinstance(value, dict):  # media params: record the id or link
        return str(value.get("id") or value.get("link") or "")
    if value is None:
        raise WaError(131008, f"Template parameter of type {ptype!r} has no value.")
    return str(value)


def _template(
    tpl: JSONDict, msg: WaMessage, templates: dict[tuple[str, str], Template] | None
) -> None:
    name = tpl.get("name")
    language = tpl.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(name, str) or not name:
        raise WaError(131008, "The parameter template['name'] is required.")
    if not isinstance(code, str) or not code:
        raise WaError(131008, "The parameter template['language']['code'] is required.")
    msg.template_name, msg.template_language = name, code
    named: dict[str, str] = {}
    for component in tpl.get("components") or []:
        if not isinstance(component, dict):
            raise invalid("Param template['components'][] must be an object.")
        ctype = str(component.get("type", "")).lower()
        params = component.get("parameters") or []
        if ctype == "body":
            for param in params:
                value = _param_value(param)
                if param.get("parameter_name"):
                    named[str(param["parameter_name"])] = value
                msg.template_params.append(value)
        elif ctype == "header":
            for param in params:
                if param.get("type") in ("image", "document", "video"):
                    part = param.get(str(param["type"])) or {}
                    msg.media_id = part.get("id")
                    msg.link = part.get("link")
                    msg.filename = part.get("filename")
                else:
                    msg.header = _param_value(param)
        elif ctype == "button" and component.get("sub_type") == "quick_reply":
            index = int(component.get("index", 0))
            for param in params:
                if param.get("type") == "payload":
                    msg.template_buttons.append((str(param.get("payload")), f"#{index}"))
    if templates is None:
        return
    known = templates.get((name, code))
    if known is None:
        raise WaError(132001, f"template name ({name}) does not exist in {code}")
    if len(msg.template_params) != known.param_count:
        raise WaError(
            132000,
            f"body: number of localizable_params ({len(msg.template_params)}) does not match "
            f"the expected number of params ({known.param_count})",
        )
    msg.text = known.render(msg.template_params, named)
    # The template defines the quick-reply titles; the send may set their payloads
    # (without one, WhatsApp sends the button text as the payload).
    payloads = {int(title[1:]): payload for payload, title in msg.template_buttons}
    msg.template_buttons = [
        (payloads.get(index, title), title) for index, title in enumerate(known.buttons)
    ]
