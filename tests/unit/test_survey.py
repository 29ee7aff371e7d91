"""The SKM form (skm.yaml), the index as PermenPAN-RB 14/2017 computes it, the sample table."""

from __future__ import annotations

import copy
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import survey as skm
from bot.settings import ROOT
from bot.sop.loader import load_sop_dir
from handlers.cli import sop_check

SOP_DIR = ROOT / "sop_steps"


def raw_form() -> dict[str, Any]:
    data = yaml.safe_load((SOP_DIR / "skm.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_shipped_form_has_the_nine_elements_with_four_answers_each() -> None:
    form = skm.load_form(SOP_DIR)
    assert [e.code for e in form.elements] == [f"u{n}" for n in range(1, 10)]
    assert [e.name["id"] for e in form.elements] == [
        "Persyaratan", "Sistem, mekanisme dan prosedur", "Waktu penyelesaian", "Biaya/tarif",
        "Produk spesifikasi jenis pelayanan", "Kompetensi pelaksana", "Perilaku pelaksana",
        "Penanganan pengaduan, saran dan masukan", "Sarana dan prasarana"]
    assert form.element("u4") is not None
    assert [a["id"] for a in form.element("u4").answers] == [  # type: ignore[union-attr]
        "Sangat mahal", "Cukup mahal", "Murah", "Gratis"]
    assert [q.code for q in form.profile] == ["umur", "kelamin", "pendidikan", "pekerjaan"]
    assert form.prefer_not == {"id": "Tidak ingin menjawab", "en": "Prefer not to say"}


def test_the_sop_loader_and_sop_check_do_not_take_skm_yaml_for_an_sop(
        capsys: pytest.CaptureFixture[str]) -> None:
    _offices, sops = load_sop_dir(SOP_DIR)
    assert "skm" not in {s.code for s in sops}
    assert sop_check([], SOP_DIR) == 0
    assert "✓ skm.yaml: SKM — 9 unsur, 4 pertanyaan profil" in capsys.readouterr().out


def _broken(change: Any) -> str:
    data = copy.deepcopy(raw_form())
    change(data)
    with pytest.raises(skm.SkmError) as caught:
        skm.parse_form(data)
    return str(caught.value)


def test_a_broken_form_is_refused_with_a_clear_reason() -> None:
    assert "tepat 9 unsur" in _broken(lambda d: d["unsur"].pop())
    assert "kode harus 'u3'" in _broken(lambda d: d["unsur"][2].update(kode="u9"))
    assert "tepat 4 jawaban" in _broken(lambda d: d["unsur"][0]["jawaban"].pop())
    assert "teks bahasa 'en' kosong" in _broken(
        lambda d: d["unsur"][1]["pertanyaan"].pop("en"))
    assert "lebih dari 24 huruf" in _broken(
        lambda d: d["unsur"][0]["jawaban"][0].update(id="Sangat tidak sesuai sekali ya"))
    assert "kode pilihan 'x'" in _broken(
        lambda d: d["profil"][0]["pilihan"][0].update(kode="x"))
    assert "ganda" in _broken(lambda d: d["profil"].append(d["profil"][0]))
    with pytest.raises(skm.SkmError, match=r"skm\.yaml: tidak ada"):
        skm.read_form(Path("/nonexistent/skm.yaml"))
    assert skm.load_form(Path("/nonexistent")) == skm.load_form(SOP_DIR)  # the shipped one


def test_the_index_of_three_respondents_by_hand() -> None:
    # Respondents' scores u1..u9.
    answers = [[4, 4, 3, 3, 4, 4, 4, 2, 3],
               [3, 3, 3, 2, 3, 4, 4, 3, 3],
               [4, 3, 2, 4, 3, 3, 4, 3, 4]]
    nrrs = [skm.nrr([r[i] for r in answers]) for i in range(9)]
    assert nrrs[0] == Fraction(11, 3)
    assert skm.round2(nrrs[0]) == Decimal("3.67")
    assert nrrs[2] == Fraction(8, 3)
    assert skm.round2(nrrs[2]) == Decimal("2.67")
    # sum of sums = 89; IKM = 89/3 x 1/9 x 25 = 2225/27 = 82.407… -> 82.41, grade B
    index = skm.ikm(nrrs)
    assert index == Fraction(2225, 27)
    assert skm.round2(index) == Decimal("82.41")
    assert skm.grade(skm.round2(index)).letter == "B"


def test_the_extremes_and_the_grade_boundaries() -> None:
    assert skm.round2(skm.ikm([Fraction(4)] * 9)) == Decimal("100.00")
    assert skm.round2(skm.ikm([Fraction(1)] * 9)) == Decimal("25.00")
    cases = {"100.00": "A", "88.31": "A", "88.30": "B", "76.61": "B", "76.60": "C",
             "65.00": "C", "64.99": "D", "25.00": "D"}
    for value, letter in cases.items():
        assert skm.grade(Decimal(value)).letter == letter, value
    # Half-up, not to even: 88.305 is graded A; 76.605 is B.
    assert skm.round2(Fraction(88305, 1000)) == Decimal("88.31")
    assert skm.round2(Fraction(76605, 1000)) == Decimal("76.61")
    assert skm.round2(Fraction(65, 1) - Fraction(1, 200)) == Decimal("65.00")  # 64.995
    with pytest.raises(ValueError, match="9 NRR"):
        skm.ikm([Fraction(4)] * 8)
    with pytest.raises(ValueError):
        skm.nrr([])


def test_the_sample_size_follows_krejcie_and_morgan() -> None:
    assert skm.required_sample(0) == 0
    assert skm.required_sample(7) == 7  # below the table: everyone
    assert skm.required_sample(10) == 10
    assert skm.required_sample(100) == 80
    assert skm.required_sample(101) == 86  # the next row up
    assert skm.required_sample(1000) == 278
    assert skm.required_sample(1_000_000) == 384
    sizes = [n for n, _ in skm.KREJCIE_MORGAN]
    samples = [s for _, s in skm.KREJCIE_MORGAN]
    assert sizes == sorted(sizes)
    assert samples == sorted(samples)
