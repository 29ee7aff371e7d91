"""The SOP's free-text time standard (Waktu) as written in the seeds."""

from __future__ import annotations

import pytest

from bot.sop.waktu import Duration, TimeUnit, parse_waktu


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("3 menit", 3, TimeUnit.MINUTE),
        ("10 Menit", 10, TimeUnit.MINUTE),
        ("15 Menit", 15, TimeUnit.MINUTE),
        ("30 menit", 30, TimeUnit.MINUTE),
        ("2 Jam", 2, TimeUnit.HOUR),
        ("1 Hari", 1, TimeUnit.WORKING_DAY),
        ("2 Hari", 2, TimeUnit.WORKING_DAY),
    ],
)
def test_every_form_in_the_seeds_is_read(text: str, amount: int, unit: TimeUnit) -> None:
    assert parse_waktu(text) == Duration(amount, unit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  5   MENIT ", Duration(5, TimeUnit.MINUTE)),
        ("2 hari kerja", Duration(2, TimeUnit.WORKING_DAY)),
    ],
)
def test_spacing_and_case_do_not_matter(text: str, expected: Duration) -> None:
    assert parse_waktu(text) == expected


def test_minutes_and_hours_have_a_length_in_minutes() -> None:
    assert parse_waktu("10 Menit").minutes == 10
    assert parse_waktu("2 Jam").minutes == 120


def test_a_hari_is_a_working_day_not_24_hours() -> None:
    day = parse_waktu("1 Hari")
    assert day.unit is TimeUnit.WORKING_DAY
    assert day != Duration(24, TimeUnit.HOUR)
    with pytest.raises(ValueError, match="working days"):
        _ = day.minutes


@pytest.mark.parametrize(
    ("text", "shown"),
    [("3 menit", "3 menit"), ("10 Menit", "10 menit"), ("2 Jam", "2 jam"), ("2 Hari", "2 hari")],
)
def test_text_is_written_back_in_indonesian(text: str, shown: str) -> None:
    assert parse_waktu(text).text == shown


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", r"tidak dapat dibaca.*'5 menit'"),
        ("abc", r"'abc' tidak dapat dibaca.*'5 menit', '2 jam' atau '1 hari'"),
        ("menit 5", "tidak dapat dibaca"),
        ("0 menit", r"'0 menit' harus lebih dari nol"),
        ("5 tahun", r"satuan waktu 'tahun' tidak dikenal; gunakan menit, jam atau hari"),
    ],
)
def test_unreadable_time_is_refused_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        parse_waktu(text)
