"""Draw an SOP's flow as a Mermaid flowchart, generated from the loaded data.

One lane (subgraph) per group of acting roles, in hierarchy order (Kadis … Staf, Tim); each step
is a node "N. short activity (Waktu)", a decision (a step with more than one button) a diamond.
Forward buttons are solid edges, returns dotted back edges, both labelled with the button text.
"""

from __future__ import annotations

from bot.roles import ROLES, role_name
from bot.sop.model import REQUESTER, Action, ActionKind, Sop, Step

ROLE_ORDER: tuple[str, ...] = tuple(ROLES)  # kadis, sekdis, kabid, kasi, staf, tim
_ESCAPES = {
    "#": "#35;",
    '"': "#quot;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
    "<": "#lt;",
    ">": "#gt;",
    "|": "#124;",
}
_KIND_LABEL = {
    ActionKind.FORWARD: "Teruskan",
    ActionKind.DISPOSE: "Disposisikan",
    ActionKind.INITIAL: "Paraf & teruskan",
    ActionKind.RETURN: "Kembalikan",
    ActionKind.FINISH: "Selesai",
}
START = "mulai"
END = "selesai"
REQUESTER_NODE = "pemohon"
REQUESTER_LANE = "Pemohon (Anggota KIM)"


def escape(text: str) -> str:
    """Make text safe inside a quoted Mermaid label or an edge label: entity codes."""
    return "".join(_ESCAPES.get(ch, ch) for ch in " ".join(str(text).split()))


def short_activity(text: str, limit: int = 48) -> str:
    """The activity cut at a word boundary, for a node label."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def node_id(step: Step) -> str:
    return f"s{step.number}"


def lane_id(roles: tuple[str, ...]) -> str:
    return "lane_" + "_".join(roles)


def lane_title(roles: tuple[str, ...]) -> str:
    return " / ".join(role_name(r) for r in roles)


def _rank(roles: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(ROLE_ORDER.index(r) if r in ROLE_ORDER else len(ROLE_ORDER) for r in roles)


def lanes(sop: Sop) -> list[tuple[str, ...]]:
    """The role groups that act in the SOP, in hierarchy order."""
    groups = {step.roles for step in sop.steps}
    return sorted(groups, key=_rank)


def _label(action: Action) -> str:
    return action.label.get("id") or _KIND_LABEL[action.kind]


def _node(step: Step) -> str:
    text = escape(f"{step.number}. {short_activity(step.activity)} ({step.waktu_text})")
    decision = len(step.actions) > 1
    return f'{node_id(step)}{{"{text}"}}' if decision else f'{node_id(step)}["{text}"]'


def _edge(source: str, action: Action, target: str) -> str:
    arrow = "-.->" if action.kind is ActionKind.RETURN else "-->"
    return f"{source} {arrow}|{escape(_label(action))}| {target}"


def to_mermaid(sop: Sop) -> str:
    """The whole flowchart as Mermaid text; the same SOP always gives the same text."""
    lines = [
        "flowchart TD",
        "    %% " + escape(f"{sop.number} {sop.name}".strip()),
        "    %% " + escape(f"kantor: {sop.office} · kode: {sop.code}"),
    ]
    returns_to_requester = any(a.to_requester for s in sop.steps for a in s.actions)
    if sop.started_by == REQUESTER:
        # The member is no office role, but gets a lane: the case starts and is fixed there.
        lines.append(f'    subgraph {lane_id((REQUESTER,))}["{escape(REQUESTER_LANE)}"]')
        lines.append("        direction TB")
        lines.append(f'        {START}(["{escape("Mulai: pemohon mengajukan")}"])')
        if returns_to_requester:
            lines.append(f'        {REQUESTER_NODE}(("{escape("Pemohon memperbaiki")}"))')
        lines.append("    end")
    else:
        lines.append(f'    {START}(["{escape("Mulai: " + role_name(sop.started_by))}"])')
    for group in lanes(sop):
        lines.append(f'    subgraph {lane_id(group)}["{escape(lane_title(group))}"]')
        lines.append("        direction TB")
        lines.extend(f"        {_node(s)}" for s in sop.steps if s.roles == group)
        lines.append("    end")
    lines.append(f'    {END}(["{escape("Selesai")}"])')
    lines.append(f"    {START} --> {node_id(sop.first)}")
    for step in sop.steps:
        source = node_id(step)
        for action in step.actions:
            if action.kind is ActionKind.FINISH:
                lines.append(f"    {_edge(source, action, END)}")
            elif action.to_requester:
                lines.append(f"    {_edge(source, action, REQUESTER_NODE)}")
            elif action.kind is ActionKind.RETURN:
                assert action.target is not None  # the loader insists on 'ke'
                lines.append(f"    {_edge(source, action, node_id(sop.step(action.target)))}")
            else:
                target = sop.step(action.target) if action.target else sop.next_after(step.number)
                assert target is not None  # the loader refuses a forward off the last step
                lines.append(f"    {_edge(source, action, node_id(target))}")
    if returns_to_requester:
        for step in sop.steps:
            if any(a.to_requester for a in step.actions):
                lines.append(f"    {REQUESTER_NODE} -.->|{escape('Kirim perbaikan')}| "
                             f"{node_id(step)}")
    return "\n".join(lines) + "\n"
