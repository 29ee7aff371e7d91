"""Office roles and the many ways the SOPs spell them."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "kadis": "Kepala Dinas",
    "sekdis": "Sekretaris Dinas",
    "kabid": "Kepala Bidang",
    "kasi": "Kepala Seksi",
    "staf": "Staf Administrasi",
    "tim": "Tim",
}

# Supervisor of each role, for escalation (Staf → Kasi → Kabid → Sekretaris → Kepala Dinas).
SUPERVISOR: dict[str, str | None] = {
    "staf": "kasi",
    "tim": "kasi",
    "kasi": "kabid",
    "kabid": "sekdis",
    "sekdis": "kadis",
    "kadis": None,
}

_ALIASES: dict[str, str] = {
    "kadis": "kadis",
    "kadin": "kadis",
    "kepala dinas": "kadis",
    "sekdis": "sekdis",
    "sekdin": "sekdis",
    "sekretaris": "sekdis",
    "sekretaris dinas": "sekdis",
    "kabid": "kabid",
    "kepala bidang": "kabid",
    "kasi": "kasi",
    "kepala seksi": "kasi",
    "staf": "staf",
    "staff": "staf",
    "petugas": "staf",
    "staf administrasi": "staf",
    "staff administrasi": "staf",
    "tim": "tim",
    "narasumber": "tim",
    "moderator": "tim",
}


def canonical_role(name: str) -> str | None:
    """Map any spelling ("Kadin", "Staff Administrasi") to a role code, or None."""
    return _ALIASES.get(" ".join(str(name).lower().replace("_", " ").split()))


def role_name(code: str) -> str:
    return ROLES.get(code, code)
