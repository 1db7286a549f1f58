"""How many paired comparisons would exclude 0 by chance, and how many still do after Holm's correction: the
README's multiplicity block (labelsweep.analysis.claims renders it)."""

from __future__ import annotations

import pandas as pd

from labelsweep.analysis.intervals import holm
from labelsweep.analysis.summary import CONFIDENCE, TITLES, ensure_intervals, t_test_p


def multiplicity(tables: dict[str, pd.DataFrame]) -> list[str]:
    """How many paired comparisons the tables hold, how many intervals exclude 0, how many would by chance,
    and how many still do after Holm's correction over each dataset's comparisons."""
    lines, total, excluding = [], 0, 0
    for name, differences in tables.items():
        rows = ensure_intervals(differences)
        rows = rows[rows.n >= 2]
        # paired.csv carries its p-values (seeds and test images); differences.csv's are the seeds' t-test
        p = rows.p if "p" in rows else t_test_p(rows["mean"], rows.sd, rows.n)
        m, k, kept = len(rows), int(rows.excludes_zero.sum()), int(holm(p).sum()) if len(rows) else 0
        total, excluding = total + m, excluding + k
        lines.append(f"- {TITLES.get(name, name)}: {m} comparisons with an interval; {k} exclude 0 (about "
                     f"{(1 - CONFIDENCE) * m:.1f} would by chance if no difference were real); {kept} of them after "
                     "Holm's correction over the dataset's comparisons (familywise error 5 %)")
    if not total:
        return ["No paired comparison has an interval (one seed), so no difference is claimed."]
    return [f"The difference tables hold {total} paired comparisons with an interval, of which {excluding} exclude "
            f"0; at {100 * CONFIDENCE:g} % about {(1 - CONFIDENCE) * total:.1f} would exclude 0 by chance alone:", "",
            *lines]
