"""The documents cannot drift from the results: the result block (docs/results.md, or wherever it lives among
README.md and docs/*.md) is what `python -m labelsweep.report` makes of the committed metrics/ and plots/, and
BENCHMARKS.md's tables are what `bench/run.py report` (bench/report.py) makes of the committed records in bench/out/."""

import importlib.util
import re
from pathlib import Path

import pytest

from labelsweep import report
from labelsweep.config import load_params

from .conftest import ROOT


def between(document: str, begin: str, end: str) -> str:
    return document.split(begin, 1)[1].split(end, 1)[0].removeprefix("\n")


def test_the_result_block_is_what_the_committed_results_give_wherever_it_lives():
    holders = report.documents(ROOT)
    assert holders, "no document holds the result block"
    expected = report.render(load_params(path=ROOT / "params.yaml"), ROOT / "metrics", ROOT / "plots")
    for path in holders:
        assert between(path.read_text(), report.BEGIN, report.END) == expected, path


def test_the_readme_links_every_page_of_docs():
    readme = (ROOT / "README.md").read_text()
    assert [page.name for page in sorted((ROOT / "docs").glob("*.md")) if f"](docs/{page.name})" not in readme] == []


def test_write_replaces_the_block_where_it_lives_and_nowhere_else(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# readme, no block\n")
    page = tmp_path / "docs" / "results.md"
    page.write_text(f"before\n{report.BEGIN}\nold\n{report.END}\nafter\n")
    monkeypatch.chdir(tmp_path)
    assert report.write("new\n", []) == [Path("docs/results.md")]
    assert page.read_text() == f"before\n{report.BEGIN}\nnew\n{report.END}\nafter\n"
    assert (tmp_path / "README.md").read_text() == "# readme, no block\n"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_tables_are_what_the_committed_records_give(bench):
    document = (ROOT / "BENCHMARKS.md").read_text()
    assert between(document, bench.BEGIN, bench.END) == bench.render_report()


def test_every_relative_link_of_the_readme_and_docs_names_a_file_that_exists():
    broken = []
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
            if "://" not in target and not (document.parent / target).exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []
