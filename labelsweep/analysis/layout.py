"""Where a figure's panels go: at most :data:`COLUMNS` to a row, in reading order.

A panel is one noise kind and regime (labelsweep.analysis.tables.with_panels); the study's four noise kinds and two
regimes make eight, which in one row came out 3,800 pixels wide, unreadable once scaled to a page. Wrapping them keeps
every panel at the size it was drawn for.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = 4


def panel_axes(count: int, width: float = 4.6, height: float = 3.6, min_width: float = 0.0, **kwargs: object
               ) -> tuple[plt.Figure, list[plt.Axes]]:
    """A figure of `count` panels of `width` x `height` inches, at most COLUMNS to a row, and their axes in reading
    order (the empty cells of a last, shorter row removed). `kwargs` go to plt.subplots (sharex, sharey)."""
    fig, grid = block_axes(count, 1, width, height, min_width, **kwargs)
    return fig, [column[0] for column in grid]


def block_axes(count: int, per_panel: int, width: float, height: float, min_width: float = 0.0, **kwargs: object
               ) -> tuple[plt.Figure, list[list[plt.Axes]]]:
    """As :func:`panel_axes`, with each panel a column of `per_panel` axes stacked (a measure each): per panel, its
    axes from top to bottom."""
    columns = max(1, min(count, COLUMNS))
    blocks = max(1, math.ceil(count / columns))
    fig, grid = plt.subplots(blocks * per_panel, columns, squeeze=False, layout="constrained",
                             figsize=(max(min_width, 1 + width * columns), 0.8 + height * per_panel * blocks), **kwargs)
    panels = [[grid[(i // columns) * per_panel + r, i % columns] for r in range(per_panel)] for i in range(count)]
    used = {id(ax) for panel in panels for ax in panel}
    for ax in grid.flat:
        if id(ax) not in used:
            ax.remove()
    for ax in bottom([panel[-1] for panel in panels]):  # sharex hid the tick labels of a row above an empty cell
        ax.xaxis.set_tick_params(labelbottom=True)
    return fig, panels


def first_column(axes: list[plt.Axes]) -> list[plt.Axes]:
    """The axes at the left edge of their row: those that take a y label."""
    return [ax for ax in axes if ax.get_subplotspec().is_first_col()]


def bottom(axes: list[plt.Axes]) -> list[plt.Axes]:
    """The axes with no panel below them: those that take an x label."""
    spans = [(ax.get_subplotspec().colspan.start, ax.get_subplotspec().rowspan.start) for ax in axes]
    lowest = {column: max(row for c, row in spans if c == column) for column, _ in spans}
    return [ax for ax, (column, row) in zip(axes, spans) if row == lowest[column]]

