"""labelsweep.analysis.layout: a figure's panels at most four to a row, in reading order, labelled at the edges."""

import pytest

from labelsweep.analysis.layout import COLUMNS, block_axes, bottom, first_column, panel_axes


def position(ax) -> tuple[int, int]:
    spec = ax.get_subplotspec()
    return spec.rowspan.start, spec.colspan.start


@pytest.mark.parametrize(("count", "rows"), [(1, 1), (2, 1), (4, 1), (5, 2), (8, 2), (9, 3)])
def test_panels_wrap_after_four_in_reading_order(count, rows):
    fig, axes = panel_axes(count, sharey=True)
    assert len(axes) == len(fig.axes) == count  # a shorter last row's empty cells are removed
    assert [position(ax) for ax in axes] == [(i // COLUMNS, i % COLUMNS) for i in range(count)]
    assert max(position(ax)[0] for ax in axes) == rows - 1
    assert fig.get_figwidth() == pytest.approx(1 + 4.6 * min(count, COLUMNS))


def test_y_labels_go_to_each_rows_first_panel_and_x_labels_to_the_panels_with_none_below():
    fig, axes = panel_axes(6, sharex=True)
    assert first_column(axes) == [axes[0], axes[4]]
    # the second row holds panels 4 and 5: panels 2 and 3 of the first row have nothing below them
    assert bottom(axes) == [axes[2], axes[3], axes[4], axes[5]]


def test_a_block_stacks_a_panels_measures_and_shows_ticks_above_an_empty_cell():
    fig, blocks = block_axes(5, 3, width=3.6, height=2.4, sharex=True)
    assert len(blocks) == 5 and all(len(block) == 3 for block in blocks) and len(fig.axes) == 15
    assert [position(ax) for ax in blocks[4]] == [(3, 0), (4, 0), (5, 0)]  # the second row of blocks
    lowest = bottom([block[-1] for block in blocks])
    assert lowest == [blocks[1][-1], blocks[2][-1], blocks[3][-1], blocks[4][-1]]
    # sharex hides a panel's x tick labels where a row follows; above an empty cell they are shown again
    assert blocks[1][-1].xaxis.get_tick_params()["labelbottom"] is True
    assert blocks[0][-1].xaxis.get_tick_params().get("labelbottom") is False
