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
    "ms klk-bentuk-kim short",
    "ms KLK Ab-_9xYz",
    "mc sign Ab-_9xYz",
    "da 1",
    "da 1 1 1",
    "dv 1 12345",
    "ta x 1",
    "tg 1 1",
    "tg 1 1 -5",
    "tn 1 1 ok",
    "td 1 1 2026-11-30",
    "td 1 1 2026113",
    "mp 1",
    "mp 1 12345",
    "mp x 1",
    "e yes",
    "e delete Ab-_9xYz",
    "e yes Ab-_9xY",
    "bc send short",
    "bc blast Ab-_9xYz",
    "bp 1000 Ab-_9xYz",
    "bp -1 Ab-_9xYz",
    "bx",
    "bx 1 2",
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
        ("start_sop", callbacks.start_sop("klk-bentuk-kim", "Ab-_9xYz"),
         ("klk-bentuk-kim", "Ab-_9xYz")),
        ("start_draft", callbacks.start_draft("send", "Ab-_9xYz"), ("send", "Ab-_9xYz")),
        ("doc_attach", callbacks.doc_attach(12, 3), ("12", "3")),
        ("doc_send", callbacks.doc_send(12, 2), ("12", "2")),
        ("team", callbacks.team(12, 3), ("12", "3")),
        ("team_toggle", callbacks.team_toggle(12, 3, 10001), ("12", "3", "10001")),
        ("team_next", callbacks.team_next(12, 3), ("12", "3")),
        ("team_date", callbacks.team_date(12, 3, "20261130"), ("12", "3", "20261130")),
        ("members_page", callbacks.members_page(7, 2), ("7", "2")),
        ("erase", callbacks.erase("yes", "Ab-_9xYz"), ("yes", "Ab-_9xYz")),
        ("broadcast", callbacks.broadcast("dist", "Ab-_9xYz"), ("dist", "Ab-_9xYz")),
        ("broadcast_pick", callbacks.broadcast_pick(39, "Ab-_9xYz"), ("39", "Ab-_9xYz")),
        ("broadcast_stop", callbacks.broadcast_stop(12), ("12",)),
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
        callbacks.start_sop("a" * 24, "A" * 8),
        callbacks.start_draft("cancel", "A" * 8),
        callbacks.doc_attach(9_999_999_999, 999_999),
        callbacks.doc_send(9_999_999_999, 9_999),
        callbacks.team(9_999_999_999, 999_999),
        callbacks.team_toggle(9_999_999_999, 999_999, 9_999_999_999),
        callbacks.team_next(9_999_999_999, 999_999),
        callbacks.team_date(9_999_999_999, 999_999, "20261130"),
        callbacks.members_page(9_999_999_999, 9_999),
        callbacks.erase("yes", "A" * 8),
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
