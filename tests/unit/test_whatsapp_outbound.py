"""How an Outcome becomes WhatsApp messages within WhatsApp's limits."""

from __future__ import annotations

from bot.conversations.intents import Act, Cmd, Office
from bot.conversations.output import Button, Edit, Message, Outcome
from handlers.whatsapp.outbound import (
    BODY_LIMIT,
    BUTTON_TITLE,
    ROW_DESCRIPTION,
    ROW_TITLE,
    ROWS_MAX,
    keep_tail,
    payload,
    plan,
    shorten,
)


def test_three_short_buttons_are_reply_buttons() -> None:
    rows = [[Button("Ya", Act(1, 2, "ok")), Button("Tidak", Act(1, 2, "no"))],
            [Button("Lewati", Act(1, 2, "skip"))]]
    [out] = plan(Outcome([Message("Lanjut?", rows)]))
    assert out.buttons == [("a 1 2 ok", "Ya"), ("a 1 2 no", "Tidak"), ("a 1 2 skip", "Lewati")]
    typ, msg = payload(out)
    assert typ == "interactive"
    assert msg["type"] == "button"


def test_long_labels_or_more_buttons_make_a_list_with_the_full_label_described() -> None:
    label = "Kembalikan ke Kasi untuk diperbaiki"
    [out] = plan(Outcome([Message("Pilih", [[Button(label, Act(1, 2, "back"))]])]))
    [(data, title, description)] = out.rows
    assert data == "a 1 2 back"
    assert len(title) <= ROW_TITLE
    assert title == "Kembalikan ke Kasi…"
    assert description == label


def test_titles_that_would_be_equal_keep_their_tails() -> None:
    names = ["Dinas Komunikasi dan Informatika Kabupaten Lumajang",
             "Dinas Komunikasi dan Informatika Kabupaten Kolaka"]
    rows = [[Button(n, Office(n.split()[-1].lower()))] for n in names]
    [out] = plan(Outcome([Message("Kantor?", rows)]))
    titles = [title for _, title, _ in out.rows]
    assert len(set(titles)) == 2
    assert titles[0].endswith("Lumajang")
    assert titles[1].endswith("Kolaka")
    assert all(len(t) <= ROW_TITLE for t in titles)


def test_more_than_ten_rows_are_split_into_lists() -> None:
    rows = [[Button(f"perintah{i} — keterangan", Cmd(f"c{i}"))] for i in range(23)]
    outs = plan(Outcome([Message("Menu", rows)]))
    assert [len(o.rows) for o in outs] == [ROWS_MAX, ROWS_MAX, 3]
    assert outs[0].rows[0][1:] == ("perintah0", "keterangan")
    assert outs[2].text == "Menu (3/3)"


def test_a_long_body_goes_first_as_text() -> None:
    body = "x" * (BODY_LIMIT + 10) + "\nPilih tindakan:"
    outs = plan(Outcome([Message(body, [[Button("Ya", Act(1, 1, "ok"))]])]))
    assert outs[0].text.startswith("x")
    assert not outs[0].buttons
    assert outs[1].text == "Pilih tindakan:"
    assert outs[1].buttons


def test_edits_become_new_messages_and_a_bare_removal_is_dropped() -> None:
    assert plan(Outcome(edit=Edit())) == []
    [done] = plan(Outcome(edit=Edit(append="✅ Diteruskan")))
    assert done.text == "✅ Diteruskan"
    [changed] = plan(Outcome(answer="Sudah ditangani", edit=Edit(text=None)))
    assert changed.text == "Sudah ditangani"  # the alert as a text message


def test_shortening() -> None:
    assert shorten("Paraf & teruskan ke Sekdis", BUTTON_TITLE) == "Paraf & teruskan ke…"
    assert len(shorten("a" * 100, ROW_DESCRIPTION)) == ROW_DESCRIPTION
    assert keep_tail("Dinas Komunikasi dan Informatika Kabupaten Kolaka", 24).endswith(
        "… Kolaka")
