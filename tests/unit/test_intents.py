"""Button intents: each encodes and parses back, garbage is refused, all fits in 64 bytes."""

from __future__ import annotations

import pytest

from bot.conversations import intents as i
from bot.conversations.intents import INTENTS, MAX_BYTES, Intent, parse

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
    "sv 1 stop",
    "sa 1 u0 3",
    "sa 1 u1 5",
    "sa 1 u10 1",
    "sq 1 umur",
    "sq 1 umur-x a",
    "pg 1 delete",
    "pc x",
    "pd send short",
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

EXAMPLES: list[tuple[Intent, str]] = [
    (i.Act(12, 3, "terima"), "a 12 3 terima"),
    (i.Fix(12, 4), "f 12 4"),
    (i.Trail(12), "t 12"),
    (i.Service("lmj-layanan-kim"), "s lmj-layanan-kim"),
    (i.Office("lumajang"), "o lumajang"),
    (i.Lang("en"), "l en"),
    (i.Draft("send", "Ab-_9xYz"), "r send Ab-_9xYz"),
    (i.Note("skip"), "n skip"),
    (i.StartSop("klk-bentuk-kim", "Ab-_9xYz"), "ms klk-bentuk-kim Ab-_9xYz"),
    (i.StartDraft("send", "Ab-_9xYz"), "mc send Ab-_9xYz"),
    (i.DocAttach(12, 3), "da 12 3"),
    (i.DocSend(12, 2), "dv 12 2"),
    (i.Team(12, 3), "ta 12 3"),
    (i.TeamToggle(12, 3, 10001), "tg 12 3 10001"),
    (i.TeamNext(12, 3), "tn 12 3"),
    (i.TeamDate(12, 3, "20261130"), "td 12 3 20261130"),
    (i.MembersPage(7, 2), "mp 7 2"),
    (i.Erase("yes", "Ab-_9xYz"), "e yes Ab-_9xYz"),
    (i.BroadcastStep("dist", "Ab-_9xYz"), "bc dist Ab-_9xYz"),
    (i.BroadcastPick(39, "Ab-_9xYz"), "bp 39 Ab-_9xYz"),
    (i.BroadcastStop(12), "bx 12"),
    (i.SurveyAct(7, "pause"), "sv 7 pause"),
    (i.SurveyAnswer(7, "u9", 4), "sa 7 u9 4"),
    (i.SurveyProfile(7, "pendidikan", "x"), "sq 7 pendidikan x"),
    (i.ComplaintAct(3, "answer"), "pg 3 answer"),
    (i.ComplaintStart(12), "pc 12"),
    (i.ComplaintDraft("send", "Ab-_9xYz"), "pd send Ab-_9xYz"),
    (i.Cmd("status"), "cm status"),
    (i.Link("yes"), "lk yes"),
]


@pytest.mark.parametrize(("intent", "data"), EXAMPLES, ids=lambda v: str(v))
def test_encode_is_readable_and_parses_back_to_the_same_intent(intent: Intent, data: str) -> None:
    assert intent.encode() == data
    assert parse(data) == intent
    assert len(data.encode()) <= MAX_BYTES
    # Only its own pattern accepts it.
    others = [cls.__name__ for cls in INTENTS
              if cls is not type(intent) and cls.pattern().match(data)]
    assert others == []


def test_every_intent_is_covered_by_the_examples() -> None:
    assert {type(intent) for intent, _ in EXAMPLES} == set(INTENTS)


def test_parse_gives_typed_values() -> None:
    parsed = parse(i.Act(4_294_967_296, 999_999, "kembali").encode())
    assert parsed == i.Act(4_294_967_296, 999_999, "kembali")
    assert isinstance(parsed, i.Act)
    assert isinstance(parsed.case_id, int)
    assert parse("a 1 1 hack!!") is None


@pytest.mark.parametrize("data", GARBAGE, ids=lambda d: repr(d)[:30])
def test_garbage_parses_to_nothing(data: str) -> None:
    assert parse(data) is None
    assert all(not cls.pattern().match(data) for cls in INTENTS)


def test_parse_rejects_none_and_oversized_data() -> None:
    assert parse(None) is None
    assert parse("a 1 1 terima" + " " * 60) is None


def test_the_longest_possible_data_fits_in_64_bytes() -> None:
    longest: list[Intent] = [
        i.Act(9_999_999_999, 999_999, "a" * 12),
        i.Fix(9_999_999_999, 999_999),
        i.Trail(9_999_999_999),
        i.Service("a" * 24),
        i.Office("a" * 24),
        i.Lang("en"),
        i.Draft("cancel", "A" * 8),
        i.Note("cancel"),
        i.StartSop("a" * 24, "A" * 8),
        i.StartDraft("cancel", "A" * 8),
        i.DocAttach(9_999_999_999, 999_999),
        i.DocSend(9_999_999_999, 9_999),
        i.Team(9_999_999_999, 999_999),
        i.TeamToggle(9_999_999_999, 999_999, 9_999_999_999),
        i.TeamNext(9_999_999_999, 999_999),
        i.TeamDate(9_999_999_999, 999_999, "20261130"),
        i.MembersPage(9_999_999_999, 9_999),
        i.Erase("yes", "A" * 8),
        i.BroadcastStep("cancel", "A" * 8),
        i.BroadcastPick(999, "A" * 8),
        i.BroadcastStop(9_999_999_999),
    ]
    for intent in longest:
        data = intent.encode()
        assert len(data.encode()) <= MAX_BYTES, data
        assert parse(data) == intent


def test_encoding_refuses_data_over_64_bytes() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        i.Act(1, 1, "a" * 70).encode()


def test_the_limit_is_telegrams() -> None:
    assert MAX_BYTES == 64
