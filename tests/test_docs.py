"""The documents cannot drift from the results: README.md's result block is what `python -m labelsweep.report`
makes of the committed metrics/ and plots/, every claims block of its reading is what labelsweep.claims makes of
them, and BENCHMARKS.md's tables are what `bench/run.py report` makes of
the committed records in bench/out/."""

import importlib.util

import pytest

from labelsweep import claims, report
from labelsweep.config import load_params

from .conftest import ROOT


def between(document: str, begin: str, end: str) -> str:
    return document.split(begin, 1)[1].split(end, 1)[0].removeprefix("\n")


def test_the_readme_result_block_is_what_the_committed_results_give():
    readme = (ROOT / "README.md").read_text()
    expected = report.render(load_params(path=ROOT / "params.yaml"), ROOT / "metrics", ROOT / "plots")
    assert between(readme, report.BEGIN, report.END) == expected


def test_every_claim_in_the_readme_is_what_the_committed_results_give():
    readme = (ROOT / "README.md").read_text()
    params = load_params(path=ROOT / "params.yaml")
    found = claims.blocks(readme)
    assert "multiplicity" in found and {f"{name}/prune_vs_baseline" for name in params["datasets"]} <= set(found)
    for key, body in found.items():
        assert body == claims.render_block(key, params, ROOT / "plots"), f"README's claims block {key} drifted: " \
            "python -m labelsweep.report --write README.md"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_tables_are_what_the_committed_records_give(bench):
    document = (ROOT / "BENCHMARKS.md").read_text()
    assert between(document, bench.BEGIN, bench.END) == bench.render_report()
