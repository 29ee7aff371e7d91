"""The one input-cleaning layer: every typed text, number, date, phone and file passes here.

Text is normalised (NFC) and stripped of what a person cannot see or that spoofs what they
see (format and control characters: zero-width, bidi overrides, BOM, NUL; lone surrogates)
BEFORE any emptiness or length check, so an invisible answer is an empty answer. Numbers
are ASCII digits in a range; dates lie in a sensible range; phone numbers become E.164
(+62… for the Indonesian forms 08…, 62…, +62…); a file's type is decided from its bytes.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from bot.errors import BadInput

KEEP = frozenset("\n\t")  # the only control characters a typed text may carry
FIRST_DAY = date(2000, 1, 1)  # dates outside [FIRST_DAY, LAST_DAY] are typing errors
LAST_DAY = date(2100, 12, 31)
_DIGITS = re.compile(r"[0-9]{1,18}\Z", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", re.ASCII)


def _visible(ch: str) -> bool:
    """False for format (Cf: zero-width, bidi, BOM), control (Cc: NUL…) and lone surrogates."""
    if ch in KEEP:
        return True
    return unicodedata.category(ch) not in ("Cf", "Cc", "Cs")


def text(value: str) -> str:
    """NFC-normalised `value` without invisible or spoofing characters (lines kept)."""
    # Filter before and after: lone surrogates cannot be stored, and NFC may compose.
    kept = "".join(ch for ch in value if _visible(ch))
    return "".join(ch for ch in unicodedata.normalize("NFC", kept) if _visible(ch))


def line(value: str) -> str:
    """One line: cleaned, runs of whitespace (newlines too) made one space, trimmed."""
    return " ".join(text(value).split())


def required(value: str, *, limit: int) -> str:
    """A required one-line answer: refused when empty once cleaned, or longer than `limit`."""
    cleaned = line(value)
    if not cleaned:
        raise BadInput("error.empty_answer")
    if len(cleaned) > limit:
        raise BadInput("error.too_long", limit=limit)
    return cleaned


def note(value: str, *, limit: int) -> str:
    """A free note (lines kept, trimmed); may be empty; refused when longer than `limit`."""
    cleaned = text(value).strip()
    if len(cleaned) > limit:
        raise BadInput("error.too_long", limit=limit)
    return cleaned


def number(value: str, /, *, low: int = 1, high: int = 2_000_000_000, key: str = "error.bad_input",
           **params: object) -> int:
    """An integer typed in ASCII digits (a leading '#' allowed) within [low, high]."""
    raw = line(value).removeprefix("#")
    if not _DIGITS.match(raw):
        raise BadInput(key, **params)
    result = int(raw)
    if not low <= result <= high:
        raise BadInput(key, **params)
    return result


def is_number(value: str) -> bool:
    """True for ASCII digits only (not '²', not Arabic-Indic digits)."""
    return bool(_DIGITS.match(value))


def day(value: str, /, *, key: str = "error.bad_date", first: date = FIRST_DAY,
        last: date = LAST_DAY, **params: object) -> date:
    """A date typed as YYYY-MM-DD within [first, last]."""
    raw = line(value)
    try:
        if not _DAY.match(raw):
            raise ValueError(raw)
        result = date.fromisoformat(raw)
    except ValueError:
        raise BadInput(key, **params) from None
    if not first <= result <= last:
        raise BadInput(key, **params)
    return result


def phone(value: str) -> str:
    """An E.164 number ('+628…'); Indonesian 08…, 62…, +62… forms accepted."""
    raw = line(value)
    plus = raw.startswith("+")
    digits = re.sub(r"[\s().-]", "", raw.removeprefix("+"))
    if not digits.isascii() or not digits.isdigit():
        raise BadInput("error.bad_phone")
    if not plus and digits.startswith("0"):
        digits = "62" + digits[1:]  # 0812… is +62812…
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        raise BadInput("error.bad_phone")
    return "+" + digits


# -- files -------------------------------------------------------------------------------

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOC = "application/msword"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ZIP = "application/zip"  # never accepted as such: see sniff_declared
_EXTENSION = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", DOC: ".doc", DOCX: ".docx"}
_SAFE_EXTENSIONS = {*_EXTENSION.values(), ".jpeg"}


def sniff(data: bytes) -> str | None:
    """The file's type from its first bytes; None when it is none we accept."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: .doc
        return DOC
    if data.startswith(b"PK\x03\x04"):
        # A zip: DOCX when its parts show it; else only when the sender says DOCX (a large
        # first part can push "word/" past the bytes we look at). Never any other zip.
        return DOCX if b"word/" in data[:65536] else ZIP
    return None


def sniff_declared(data: bytes, mime: str, name: str) -> str | None:
    """`sniff`, settling a zip that is not visibly a DOCX by what the sender declared."""
    found = sniff(data)
    if found == ZIP:
        declared = mime == DOCX or name.lower().endswith(".docx")
        return DOCX if declared else None
    return found


def file_name(value: str, mime: str) -> str:
    """A safe file name: no path, no invisible/bidi characters, the extension of `mime`."""
    name = line(value).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch not in '<>:"|?*').strip(" .")[:120]
    stem, dot, ext = name.rpartition(".")
    wanted = _EXTENSION.get(mime, "")
    if not wanted:
        return name or "file"
    # A name with an accepted extension stays (a photo named .jpg may be a PNG); any other
    # (".exe", none) gets the extension of what the bytes are.
    if dot and stem and ("." + ext.lower()) in _SAFE_EXTENSIONS:
        return name
    return (stem if dot and stem else name or "file") + wanted
