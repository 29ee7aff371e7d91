"""`kimbot demo` plays to its end: the request, the survey and the admin's /skm."""

from __future__ import annotations

import pytest

from handlers.telegram.demo import run_demo


def test_the_demo_ends_with_the_survey_and_the_skm_summary(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(quiet=True) == 0
    assert "anggota mengisi survei kepuasan (SKM)" in capsys.readouterr().out
