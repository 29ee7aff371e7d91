"""The period report as a picture: per step, median office time against the standard.

matplotlib with the Agg canvas only (no display, no pyplot state, safe in a worker thread);
the DejaVu fonts matplotlib ships, nothing downloaded. Every chart is WIDTH x HEIGHT pixels.
"""

from __future__ import annotations

import threading
import warnings
from io import BytesIO

from bot.i18n import Translator
from bot.reports import PeriodReport, SopReport

WIDTH, HEIGHT, DPI = 1200, 700, 100
ACTUAL, LATE, STANDARD = "#2f6db5", "#c0392b", "#b8b8b8"
MINUTES_UP_TO = 3 * 3600  # larger values are drawn in hours
# matplotlib keeps shared caches (fonts, text layout): one chart at a time across threads.
_DRAWING = threading.Lock()


def _short(text: str, limit: int = 85) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def render_sop_chart(report: PeriodReport, sop: SopReport, translator: Translator,
                     language: str = "id") -> bytes:
    """A PNG: bars of median actual and standard office time per step, on-time share above."""
    with _DRAWING:
        return _draw(report, sop, translator, language)


def _draw(report: PeriodReport, sop: SopReport, translator: Translator, language: str) -> bytes:
    # Imported here: matplotlib costs ~100 MB of memory; only a report needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    def t(key: str, **params: object) -> str:
        return translator.text(language, key, **params)

    steps = sop.steps
    biggest = max([s.standard_s for s in steps] + [s.median_s or 0 for s in steps] + [1])
    unit_s, unit = (60, t("chart.minutes")) if biggest <= MINUTES_UP_TO else (3600,
                                                                             t("chart.hours"))
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.07, 0.12, 0.9, 0.72))
    positions = list(range(len(steps)))
    width = 0.38
    medians = [(s.median_s or 0) / unit_s for s in steps]
    standards = [s.standard_s / unit_s for s in steps]
    colours = [LATE if s.median_s is not None and s.median_s > s.standard_s else ACTUAL
               for s in steps]
    axes.bar([p - width / 2 for p in positions], medians, width, color=colours)
    axes.bar([p + width / 2 for p in positions], standards, width, color=STANDARD)
    top = max([*medians, *standards, 1.0])
    axes.set_ylim(0, top * 1.22)
    for position, step in zip(positions, steps, strict=True):
        share = step.on_time_share
        label = "–" if share is None else f"{round(share * 100)}%"
        axes.text(position, top * 1.08, label, ha="center", va="bottom", fontsize=10,
                  color=LATE if share is not None and share < 1 else "#333333",
                  parse_math=False)
        axes.text(position - width / 2, medians[position], f"n={step.stays}", ha="center",
                  va="bottom", fontsize=8, color="#555555", parse_math=False)
    axes.set_xticks(positions, [str(s.step_no) for s in steps])
    axes.set_xlabel(t("chart.step"), parse_math=False)
    axes.set_ylabel(unit, parse_math=False)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#e5e5e5")
    axes.set_axisbelow(True)
    legend = [Patch(color=ACTUAL, label=t("chart.median")),
              Patch(color=LATE, label=t("chart.over")),
              Patch(color=STANDARD, label=t("chart.standard"))]
    axes.legend(handles=legend, loc="upper right", frameon=False, fontsize=9, ncols=3,
                bbox_to_anchor=(1.0, 1.12))
    figure.text(0.07, 0.955, _short(sop.name), fontsize=14, fontweight="bold",
                parse_math=False)
    figure.text(0.07, 0.915, t("chart.subtitle", office=report.office_name,
                               period=report.period.label(language)),
                fontsize=10, color="#444444", parse_math=False)
    figure.text(0.07, 0.03, t("chart.footnote", received=sop.received, finished=sop.finished,
                              open=sop.open), fontsize=9, color="#444444", parse_math=False)
    buffer = BytesIO()
    with warnings.catch_warnings():
        # A name with a character DejaVu lacks (an emoji) is drawn as a box, not an error.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font",
                                category=UserWarning)
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def render_charts(report: PeriodReport, translator: Translator,
                  language: str = "id") -> list[tuple[str, bytes]]:
    """One chart per SOP that saw any work in the period: (SOP code, PNG bytes)."""
    return [(sop.code, render_sop_chart(report, sop, translator, language))
            for sop in report.sops if sop.has_activity and sop.steps]
