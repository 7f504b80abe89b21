"""Figures as PNG bytes: rows of panels, each holding a few series.

One drawing function serves every figure of the report and the sweep; what differs
is only which panels and series are handed to it. matplotlib's Agg backend draws
without a display (CI, a headless server).
"""

import io
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DPI = 110
PANEL_SIZE_IN = (4.4, 3.1)
# Two panels fill a page's width at full size (about 970 px); a third would shrink them all.
PANELS_PER_ROW = 2


@dataclass(frozen=True)
class Series:
    label: str
    x: list[float]
    y: list[float]
    style: str = "-"  # a matplotlib format: "-" a line, "o" points, "o-" both, "*" a star
    point_labels: list[str] | None = None  # text beside each point (e.g. its RL step)


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    log_x: bool = False
    x_ticks: list[tuple[float, str]] | None = None  # (position, label): the swept values, or categories at 0, 1, ...
    notes: list[tuple[float, str]] = field(default_factory=list)  # (x, text): a dotted line at x, the text at its foot


def panels_png(panels: list[Panel]) -> bytes:
    """The panels side by side, PANELS_PER_ROW to a row."""
    columns = min(len(panels), PANELS_PER_ROW)
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(PANEL_SIZE_IN[0] * columns, PANEL_SIZE_IN[1] * rows), squeeze=False
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels, strict=False):  # a grid may have spare axes
        for series in panel.series:
            ax.plot(series.x, series.y, series.style, label=series.label, markersize=9 if "*" in series.style else 5)
            for x, y, text in zip(series.x, series.y, series.point_labels or [], strict=bool(series.point_labels)):
                ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color="#555555")
        if panel.log_x:
            ax.set_xscale("log")
        if panel.x_ticks is not None:
            ax.set_xticks([x for x, _ in panel.x_ticks], [label for _, label in panel.x_ticks])
            ax.minorticks_off()
        for x, text in panel.notes:
            # The line also widens the x range to hold the note, so none is drawn outside the axes.
            ax.axvline(x, color="#cf222e", linestyle=":", linewidth=1)
            ax.text(x, 0.03, f" {text}", transform=ax.get_xaxis_transform(), ha="left", fontsize=8, color="#cf222e")
        ax.set_title(panel.title, fontsize=11)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        if any(series.label for series in panel.series):
            ax.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()
