"""Text formatting helpers: Telegram-like HTML parsing and small media utilities."""

from __future__ import annotations

import struct
import zlib
from html.parser import HTMLParser
from typing import Any

JSONDict = dict[str, Any]

_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's entity unit)."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """Raised for HTML Telegram would refuse ("can't parse entities")."""


class _Parser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0]
        for idx, ch in enumerate(source):
            if ch == "\n":
                self._line_starts.append(idx + 1)
        self.parts: list[str] = []
        self.text_pos = 0
        self.stack: list[tuple[str, JSONDict, int]] = []
        self.entities: list[JSONDict] = []

    def _byte_offset(self) -> int:
        line, col = self.getpos()
        idx = self._line_starts[min(line - 1, len(self._line_starts) - 1)] + col
        return len(self._source[:idx].encode("utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}'
            )
        attr = dict(attrs)
        entity: JSONDict = {"type": _TAGS[tag]}
        if tag == "span" and attr.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset()}'
            )
        if tag == "a":
            href = attr.get("href") or ""
            if href.startswith("tg://user?id="):
                user_id = href.removeprefix("tg://user?id=")
                entity = {
                    "type": "text_mention",
                    "user": {
                        "id": int(user_id) if user_id.isdigit() else 0,
                        "is_bot": False,
                        "first_name": "",
                    },
                }
            else:
                entity["url"] = href
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attr.get("emoji-id") or ""
        elif tag == "blockquote" and "expandable" in attr:
            entity["type"] = "expandable_blockquote"
        elif tag == "code" and self.stack and self.stack[-1][0] == "pre":
            lang = attr.get("class") or ""
            if lang.startswith("language-"):
                self.stack[-1][1]["language"] = lang.removeprefix("language-")
                entity["type"] = ""
        self.stack.append((tag, entity, self.text_pos))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise EntityParseError(
            f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}'
        )

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._byte_offset()}")
        open_tag, entity, start = self.stack.pop()
        if open_tag != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{open_tag}>", found "</{tag}>"'
            )
        length = self.text_pos - start
        if entity["type"] and length > 0:
            self.entities.append({**entity, "offset": start, "length": length})

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.text_pos += utf16_len(data)


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML into ``(plain_text, entities)``; raise ``EntityParseError``."""
    parser = _Parser(source)
    parser.feed(source)
    parser.close()
    if parser.stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"'
        )
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities


def format_text(
    text: str, parse_mode: str | None, entities: list[JSONDict] | None
) -> tuple[str, list[JSONDict]]:
    """Apply ``parse_mode``/``entities`` like Telegram; only HTML is actually parsed."""
    if parse_mode and parse_mode.lower() == "html":
        return parse_html(text)
    return text, list(entities or [])


def command_entities(text: str) -> list[JSONDict]:
    """Entities Telegram adds for a leading ``/command`` in a user's message."""
    if not text.startswith("/"):
        return []
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    if len(head) < 2:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(head)}]


def image_size(data: bytes) -> tuple[int, int] | None:
    """Sniff width/height of PNG, GIF or JPEG bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        idx = 2
        while idx + 9 < len(data):
            if data[idx] != 0xFF:
                idx += 1
                continue
            marker = data[idx + 1]
            seg_len = struct.unpack(">H", data[idx + 2 : idx + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[idx + 5 : idx + 9])
                return int(width), int(height)
            idx += 2 + seg_len
    return None


def tiny_png(width: int = 1, height: int = 1) -> bytes:
    """Build a valid, minimal RGB PNG (red pixels)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


TINY_PNG: bytes = tiny_png()
