"""Callback data: every verb packs and parses back, garbage is refused, all fits in 64 bytes."""

from __future__ import annotations

import re

import pytest

from handlers import callbacks
from handlers.callbacks import MAX_BYTES, PATTERNS

GARBAGE = [
    "",
    " ",
    "zzz",
    "a",
    "a 1 1 hack!!",
    "a 1 1 TERIMA",
    "a -1 1 terima",
    "a 1 1 terima ",
    " a 1 1 terima",
    "a 1 1 terima\n",
    "a 12345678901 1 terima",  # 11-digit case id
    "a 1 1234567 terima",  # 7-digit version
    "a 1 1 abcdefghijklm",  # 13-char action
    "a 1 1",
    "f 1",
    "f x 1",
    "t",
    "t 1 2",
    "s ",
    "s -abc",
    "s Abc",
    "s " + "a" * 25,
    "o ",
    "o ../etc",
    "l fr",
    "l id en",
    "r send short",
    "r send 123456789",
    "r drop ABCDEFGH",
    "r send ABCDEFG!",
    "n later",
    "n skip cancel",
    "a 1 1 terima" + "\u00a0",
    "a ١ 1 terima",  # Arabic-Indic digit: \d would take it without re.ASCII
    "x" * 70,
]


def roundtrips() -> list[tuple[str, str, tuple[str, ...]]]:
    """(verb, packed data, the groups it must parse back to) for every verb."""
    return [
        ("act", callbacks.act(12, 3, "terima"), ("12", "3", "terima")),
        ("fix", callbacks.fix(12, 4), ("12", "4")),
        ("trail", callbacks.trail(12), ("12",)),
        ("service", callbacks.service("lmj-layanan-kim"), ("lmj-layanan-kim",)),
        ("office", callbacks.office("lumajang"), ("lumajang",)),
        ("lang", callbacks.lang("en"), ("en",)),
        ("draft", callbacks.draft("send", "Ab-_9xYz"), ("send", "Ab-_9xYz")),
        ("note", callbacks.note("skip"), ("skip",)),
    ]


@pytest.mark.parametrize(("verb", "data", "groups"), roundtrips(), ids=lambda v: str(v))
def test_pack_then_parse_gives_the_values_back(
    verb: str, data: str, groups: tuple[str, ...]
) -> None:
    assert callbacks.parse(PATTERNS[verb], data) == groups
    assert len(data.encode()) <= MAX_BYTES
    # Only its own pattern accepts it.
    others = [name for name, pattern in PATTERNS.items()
              if name != verb and callbacks.parse(pattern, data) is not None]
    assert others == []
    assert callbacks.ANY_VALID.fullmatch(data)


def test_every_verb_is_covered_by_the_roundtrips() -> None:
    assert {verb for verb, _, _ in roundtrips()} == set(PATTERNS)


def test_parse_act_gives_typed_values() -> None:
    parsed = callbacks.parse_act(callbacks.act(4_294_967_296, 999_999, "kembali"))
    assert parsed == callbacks.ActData(4_294_967_296, 999_999, "kembali")
    assert callbacks.parse_act("a 1 1 hack!!") is None


@pytest.mark.parametrize("verb", sorted(PATTERNS))
@pytest.mark.parametrize("data", GARBAGE, ids=lambda d: repr(d)[:30])
def test_every_pattern_rejects_garbage(verb: str, data: str) -> None:
    assert callbacks.parse(PATTERNS[verb], data) is None


def test_parse_rejects_none_and_oversized_data() -> None:
    for pattern in PATTERNS.values():
        assert callbacks.parse(pattern, None) is None
    long_act = "a 1 1 terima" + " " * 60
    assert callbacks.parse(callbacks.ACT, long_act) is None


def test_the_longest_possible_data_fits_in_64_bytes() -> None:
    longest = [
        callbacks.act(9_999_999_999, 999_999, "a" * 12),
        callbacks.fix(9_999_999_999, 999_999),
        callbacks.trail(9_999_999_999),
        callbacks.service("a" * 24),
        callbacks.office("a" * 24),
        callbacks.lang("en"),
        callbacks.draft("cancel", "A" * 8),
        callbacks.note("cancel"),
    ]
    for data in longest:
        assert len(data.encode()) <= MAX_BYTES, data
        assert callbacks.ANY_VALID.fullmatch(data), data
    assert callbacks.parse_act(longest[0]) == callbacks.ActData(9_999_999_999, 999_999, "a" * 12)


def test_packing_refuses_data_over_64_bytes() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        callbacks._check("a " + "1" * 70)


def test_the_limit_is_telegrams() -> None:
    assert MAX_BYTES == 64
    assert all(isinstance(p, re.Pattern) for p in PATTERNS.values())
