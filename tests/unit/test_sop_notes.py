"""Which action asks for a note is SOP data: the `catatan:` word, else the action kind's default."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sop import Action, ActionKind, NoteRule, SopError, SopRegistry, load_sop_dir
from tests.conftest import SOP_DIR


def _action(registry: SopRegistry, sop: str, step: int, code: str) -> Action:
    found = registry.get(sop)
    assert found is not None
    action = found.step(step).action(code)
    assert action is not None, (sop, step, code)
    return action


@pytest.mark.parametrize(
    ("sop", "step", "code", "rule"),
    [
        ("lmj-layanan-kim", 7, "layani", NoteRule.OPTIONAL),  # teruskan, `catatan: opsional`
        ("lmj-layanan-kim", 1, "terima", NoteRule.NONE),  # teruskan, no `catatan`
        ("lmj-layanan-kim", 1, "kembali", NoteRule.REQUIRED),
        ("lmj-layanan-kim", 3, "dispo", NoteRule.REQUIRED),  # disposisi, `catatan: wajib`
        ("lmj-layanan-kim", 8, "arsip", NoteRule.NONE),  # selesai
        ("klk-bentuk-kim", 5, "paraf", NoteRule.OPTIONAL),  # paraf, no `catatan`
        ("klk-bentuk-kim", 11, "atur_tim", NoteRule.OPTIONAL),
        ("klk-bentuk-kim", 12, "laksana", NoteRule.OPTIONAL),
    ],
)
def test_the_shipped_sops_say_which_actions_ask_for_a_note(
    registry: SopRegistry, sop: str, step: int, code: str, rule: NoteRule,
) -> None:
    action = _action(registry, sop, step, code)
    assert action.note_rule is rule
    assert action.asks_note is (rule is not NoteRule.NONE)
    assert action.note_required is (rule is NoteRule.REQUIRED)


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        (ActionKind.FORWARD, NoteRule.NONE),
        (ActionKind.DISPOSE, NoteRule.OPTIONAL),
        (ActionKind.INITIAL, NoteRule.OPTIONAL),
        (ActionKind.RETURN, NoteRule.REQUIRED),
        (ActionKind.FINISH, NoteRule.NONE),
    ],
)
def test_without_catatan_an_action_takes_its_kinds_default(kind: ActionKind,
                                                           rule: NoteRule) -> None:
    assert kind.default_note is rule
    assert Action("x", kind).note_rule is rule


@pytest.mark.parametrize("kind", [k for k in ActionKind if k is not ActionKind.RETURN])
@pytest.mark.parametrize("word", ["wajib", "opsional", "tidak"])
def test_catatan_written_in_the_sop_wins_on_every_kind(
    tmp_path: Path, kind: ActionKind, word: str,
) -> None:
    jenis = kind.value
    data = _sop_with_action({"kode": "aksi", "jenis": jenis, "catatan": word},
                            last=kind is ActionKind.FINISH)
    [sop] = load_sop_dir(_sop_dir(tmp_path, data))[1]
    action = sop.step(2).action("aksi")
    assert action is not None
    assert action.note_rule is NoteRule(word)


def test_a_return_without_a_required_note_is_refused(tmp_path: Path) -> None:
    data = _sop_with_action({"kode": "kembali", "jenis": "kembalikan", "ke": 1,
                             "catatan": "opsional"})
    with pytest.raises(SopError, match="pengembalian harus dengan catatan wajib"):
        load_sop_dir(_sop_dir(tmp_path, data))


def test_an_unknown_catatan_word_is_refused(tmp_path: Path) -> None:
    data = _sop_with_action({"kode": "aksi", "jenis": "teruskan", "catatan": "kadang"})
    with pytest.raises(SopError, match="tulis wajib, opsional atau tidak"):
        load_sop_dir(_sop_dir(tmp_path, data))


_BASE: dict[str, Any] = {
    "kode": "uji-catatan",
    "kantor": "lumajang",
    "nama_sop": "SOP Uji Catatan",
    "dimulai_oleh": "pemohon",
    "prosedur": [
        {"no": 1, "kegiatan": "Menerima berkas", "pelaksana": "Staf", "waktu": "3 menit"},
        {"no": 2, "kegiatan": "Memeriksa berkas", "pelaksana": "Kasi", "waktu": "10 menit"},
        {"no": 3, "kegiatan": "Mengarsipkan", "pelaksana": "Kadis", "waktu": "1 hari"},
    ],
}


def _sop_with_action(action: dict[str, Any], *, last: bool = False) -> dict[str, Any]:
    """The base SOP with `action` (and a way on) at step 2; `last`: step 2 ends the SOP."""
    data = copy.deepcopy(_BASE)
    if last:
        data["prosedur"] = data["prosedur"][:2]
    data["prosedur"][1]["aksi"] = [action] if last or action["jenis"] != "kembalikan" else [
        {"kode": "ok", "jenis": "teruskan"}, action]
    return data


def _sop_dir(tmp_path: Path, data: dict[str, Any]) -> Path:
    shutil.copy(SOP_DIR / "offices.yaml", tmp_path / "offices.yaml")
    (tmp_path / "uji.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return tmp_path
