"""Office roles: every spelling in the seeds maps to one role."""

from __future__ import annotations

import pytest

from bot.roles import ROLES, SUPERVISOR, canonical_role, role_name


@pytest.mark.parametrize(
    ("spelling", "role"),
    [
        ("Kadis", "kadis"),
        ("Kadin", "kadis"),
        ("Kepala Dinas", "kadis"),
        ("Sekdis", "sekdis"),
        ("Sekdin", "sekdis"),
        ("Sekretaris Dinas", "sekdis"),
        ("Kabid", "kabid"),
        ("Kepala Bidang", "kabid"),
        ("Kasi", "kasi"),
        ("KASI", "kasi"),
        ("Kepala Seksi", "kasi"),
        ("Staf", "staf"),
        ("Staff", "staf"),
        ("Petugas", "staf"),
        ("Staff Administrasi", "staf"),
        ("staff_administrasi", "staf"),
        ("  Staf   Administrasi ", "staf"),
        ("Tim", "tim"),
        ("Narasumber", "tim"),
        ("Moderator", "tim"),
    ],
)
def test_every_spelling_in_the_seeds_names_a_role(spelling: str, role: str) -> None:
    assert canonical_role(spelling) == role


@pytest.mark.parametrize("name", ["", "Bupati", "Camat", "Pemohon", "Anggota KIM", "admin"])
def test_unknown_names_are_not_roles(name: str) -> None:
    assert canonical_role(name) is None


def test_roles_have_indonesian_names() -> None:
    assert role_name("kadis") == "Kepala Dinas"
    assert role_name("staf") == "Staf Administrasi"
    assert role_name("unknown") == "unknown"


def test_escalation_climbs_to_the_head_of_the_agency() -> None:
    chain = ["staf"]
    while (boss := SUPERVISOR[chain[-1]]) is not None:
        chain.append(boss)
    assert chain == ["staf", "kasi", "kabid", "sekdis", "kadis"]
    assert SUPERVISOR["tim"] == "kasi"
    assert set(SUPERVISOR) == set(ROLES)
