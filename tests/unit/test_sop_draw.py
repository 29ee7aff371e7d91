"""`kimbot sop draw`: the SOP's flow as a Mermaid flowchart, generated from the data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.sop import ActionKind, SopRegistry
from bot.sop.loader import load_offices, load_sop_file
from bot.sop.mermaid import escape, lane_id, lanes, to_mermaid
from bot.sop.model import Action, Sop, Step
from bot.sop.waktu import parse_waktu
from handlers.cli import main
from tests.conftest import SOP_DIR

CODES = ["lmj-layanan-kim", "klk-bentuk-kim"]
NODE = re.compile(r"^\s+(s\d+)(\[|\{)\"(.*)\"(\]|\})$")
EDGE = re.compile(r"^\s+(\w+) (-->|-\.->)\|([^|]*)\| (\w+)$")


def chart(registry: SopRegistry, code: str) -> tuple[Sop, str]:
    sop = registry.get(code)
    assert sop is not None
    return sop, to_mermaid(sop)


def edges(text: str) -> list[tuple[str, str, str, str]]:
    return [m.groups() for line in text.splitlines() if (m := EDGE.match(line))]  # type: ignore[misc]


@pytest.mark.parametrize("code", CODES)
def test_one_lane_per_acting_role_in_hierarchy_order(registry: SopRegistry, code: str) -> None:
    sop, text = chart(registry, code)
    opened = re.findall(r"^\s+subgraph (\w+)\[", text, flags=re.MULTILINE)
    used = {step.roles for step in sop.steps}
    for roles in used:
        assert lane_id(roles) in opened
    office_lanes = [lane for lane in opened if lane != "lane_pemohon"]
    assert office_lanes == [lane_id(r) for r in lanes(sop)]
    assert len(office_lanes) == len(used)


def test_lanes_follow_the_hierarchy(registry: SopRegistry) -> None:
    _, kolaka = chart(registry, "klk-bentuk-kim")
    assert re.findall(r"subgraph (\w+)\[", kolaka) == [
        "lane_kadis", "lane_sekdis", "lane_kabid", "lane_kasi", "lane_staf", "lane_tim",
    ]
    _, lumajang = chart(registry, "lmj-layanan-kim")
    assert re.findall(r"subgraph (\w+)\[", lumajang) == [
        "lane_pemohon", "lane_kadis", "lane_sekdis_kabid", "lane_kasi", "lane_staf",
    ]
    assert 'lane_sekdis_kabid["Sekretaris Dinas / Kepala Bidang"]' in lumajang


@pytest.mark.parametrize("code", CODES)
def test_every_step_is_a_node_in_its_roles_lane(registry: SopRegistry, code: str) -> None:
    sop, text = chart(registry, code)
    lane = None
    placed: dict[str, str] = {}
    for line in text.splitlines():
        if m := re.match(r"^\s+subgraph (\w+)\[", line):
            lane = m.group(1)
        elif line.strip() == "end":
            lane = None
        elif (m := NODE.match(line)) and lane:
            placed[m.group(1)] = lane
    assert placed == {f"s{s.number}": lane_id(s.roles) for s in sop.steps}
    for step in sop.steps:
        assert f'"{step.number}. ' in text
        assert f"({step.waktu_text})" in text


@pytest.mark.parametrize("code", CODES)
def test_an_edge_per_button(registry: SopRegistry, code: str) -> None:
    sop, text = chart(registry, code)
    drawn = edges(text)
    solid = [(a, b) for a, arrow, _, b in drawn if arrow == "-->" and a.startswith("s")]
    dotted = [(a, b) for a, arrow, _, b in drawn if arrow == "-.->" and a.startswith("s")]
    forwards = [s for s in sop.steps for a in s.actions
                if a.kind.moves_forward or a.kind is ActionKind.FINISH]
    returns = [(f"s{s.number}", "pemohon" if a.to_requester else f"s{a.target}")
               for s in sop.steps for a in s.actions if a.kind is ActionKind.RETURN]
    assert len(solid) == len(forwards)
    assert dotted == returns
    assert "    mulai --> s1" in text
    assert any(b == "selesai" for _, _, _, b in drawn)


def test_kolaka_returns_are_dotted_back_edges_with_the_button_text(
    registry: SopRegistry,
) -> None:
    _, text = chart(registry, "klk-bentuk-kim")
    assert "    s6 -.->|Kembalikan ke Kasi untuk diperbaiki| s5" in text
    assert "    s7 -.->|Kembalikan ke Kabid untuk diperbaiki| s6" in text
    assert "    s8 -.->|Kembalikan ke Sekdis untuk diperbaiki| s7" in text
    assert "    s15 -.->|Kembalikan ke Kasi untuk diperbaiki| s14" in text
    assert "    s6 -->|Paraf & teruskan ke Sekdis| s7" in text
    assert "    s17 -->|Didokumentasikan & selesai| selesai" in text


def test_decisions_are_diamonds_and_other_steps_boxes(registry: SopRegistry) -> None:
    sop, text = chart(registry, "klk-bentuk-kim")
    shapes = {m.group(1): m.group(2) for line in text.splitlines() if (m := NODE.match(line))}
    assert {n for n, shape in shapes.items() if shape == "{"} == {"s6", "s7", "s8", "s15"}
    assert len(shapes) == len(sop.steps)
    assert 'mulai(["Mulai: Kepala Dinas"])' in text
    assert 'selesai(["Selesai"])' in text


def test_lumajang_returns_to_the_member_and_back(registry: SopRegistry) -> None:
    _, text = chart(registry, "lmj-layanan-kim")
    assert "    s1 -.->|Kembalikan ke pemohon| pemohon" in text
    assert "    pemohon -.->|Kirim perbaikan| s1" in text
    assert "    s3 -.->|Kembalikan| s2" in text  # no label in the file: the kind's word


@pytest.mark.parametrize("code", CODES)
def test_the_chart_is_structurally_sound_and_deterministic(
    registry: SopRegistry, code: str
) -> None:
    sop, text = chart(registry, code)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    depth = 0
    for line in lines:
        if re.match(r"^\s+subgraph ", line):
            depth += 1
            assert depth == 1  # lanes are not nested
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
    assert depth == 0
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith(("%%", "subgraph", "direction")) or stripped == "end":
            continue
        assert stripped.count('"') % 2 == 0, line
        assert NODE.match(line) or EDGE.match(line) or re.match(
            r'^\s+\w+\(\[?\(?"[^"]*"\)?\]?\)$', line) or re.match(
            r"^\s+mulai --> s\d+$", line), line
    again = SopRegistry.from_dir(SOP_DIR).get(code)
    assert again is not None
    assert to_mermaid(again) == text
    assert to_mermaid(sop) == text


def test_labels_are_escaped() -> None:
    assert escape('Cek "surat" [baru] {x} <y> a|b #1') == (
        "Cek #quot;surat#quot; #91;baru#93; #123;x#125; #lt;y#gt; a#124;b #35;1"
    )
    assert escape("dua\nbaris   spasi") == "dua baris spasi"
    step = Step(number=1, activity='Terima "surat" [masuk] {segera}', roles=("staf",), also=(),
                requirements=(), waktu=parse_waktu("3 menit"), waktu_text="3 menit",
                output="", note="",
                actions=(Action("ok", ActionKind.FINISH, label={"id": "Selesai | tutup"}),))
    sop = Sop(code="uji", office="lumajang", number="1", name='SOP "uji"',
              service_name={"id": "Uji"}, started_by="staf", header={}, steps=(step,))
    text = to_mermaid(sop)
    assert 's1["1. Terima #quot;surat#quot; #91;masuk#93; #123;segera#125; (3 menit)"]' in text
    assert "s1 -->|Selesai #124; tutup| selesai" in text


def test_long_activities_are_shortened_at_a_word(registry: SopRegistry) -> None:
    _, text = chart(registry, "klk-bentuk-kim")
    assert 's4["4. Menerima dan mengetik konsep seluruh naskah… (2 Hari)"]' in text


# -- the command -------------------------------------------------------------------------------


def test_kimbot_sop_draw_prints_the_chart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sop", "draw", str(SOP_DIR / "kolaka_pembentukan_kim.yaml")]) == 0
    out = capsys.readouterr().out
    offices = load_offices(SOP_DIR / "offices.yaml")
    assert out == to_mermaid(load_sop_file(SOP_DIR / "kolaka_pembentukan_kim.yaml", offices))


def test_kimbot_sop_draw_writes_mmd_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = str(SOP_DIR / "lumajang_pelayanan_kim.yaml")
    assert main(["sop", "draw", src, "-o", str(tmp_path / "alur.mmd")]) == 0
    assert main(["sop", "draw", src, "-o", str(tmp_path / "alur.md")]) == 0
    mmd = (tmp_path / "alur.mmd").read_text(encoding="utf-8")
    md = (tmp_path / "alur.md").read_text(encoding="utf-8")
    assert mmd.startswith("flowchart TD\n")
    assert f"```mermaid\n{mmd}```\n" in md
    assert "✓ " in capsys.readouterr().out


def test_kimbot_sop_draw_refuses_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "rusak.yaml"
    bad.write_text("kode: rusak\nkantor: lumajang\nnama_sop: X\nprosedur: []\n", encoding="utf-8")
    assert main(["sop", "draw", str(bad)]) == 1
    assert "rusak.yaml: prosedur kosong" in capsys.readouterr().err
    assert main(["sop", "draw", str(tmp_path / "tidak-ada.yaml")]) == 1
    assert "berkas tidak ada" in capsys.readouterr().err


def test_draw_takes_a_glob_of_the_sop_folder_and_skips_the_office_list(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    files = sorted(str(p) for p in SOP_DIR.glob("*.yaml"))
    assert any(f.endswith("offices.yaml") for f in files)
    assert main(["sop", "draw", *files]) == 0
    out, err = capsys.readouterr()
    assert out.count("flowchart") == len(files) - 2  # every SOP drawn
    assert "offices.yaml: bukan SOP, dilewati / not an SOP, skipped" in err
    assert "skm.yaml: bukan SOP, dilewati / not an SOP, skipped" in err
    assert main(["sop", "draw", *files, "-o", str(tmp_path / "alur")]) == 0
    drawn = sorted(p.name for p in (tmp_path / "alur").iterdir())
    assert drawn == ["klk-bentuk-kim.mmd", "lmj-layanan-kim.mmd"]
