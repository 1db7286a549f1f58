"""The documents cannot drift from the results: the result block (docs/results.md, or wherever it lives among
README.md and docs/*.md) is what `python -m labelsweep.tooling.report` makes of the committed metrics/ and plots/, every
claims block (in the README's findings and the reading) is what labelsweep.analysis.claims makes of them, and
BENCHMARKS.md's tables are what `bench/run.py report` (bench/report.py) makes of the committed records in
bench/out/."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from labelsweep.analysis import claims
from labelsweep.config import load_params
from labelsweep.tooling import report

from .conftest import ROOT


def between(document: str, begin: str, end: str) -> str:
    return document.split(begin, 1)[1].split(end, 1)[0].removeprefix("\n")


def test_the_result_block_is_what_the_committed_results_give_wherever_it_lives():
    holders = [path for path in report.documents(ROOT) if report.BEGIN in path.read_text()]
    assert holders, "no document holds the result block"
    expected = report.render(load_params(path=ROOT / "params.yaml"), ROOT / "metrics", ROOT / "plots")
    for path in holders:
        assert between(path.read_text(), report.BEGIN, report.END) == expected, path


def test_the_readme_links_every_page_of_docs():
    readme = (ROOT / "README.md").read_text()
    assert [page.name for page in sorted((ROOT / "docs").glob("*.md")) if f"](docs/{page.name})" not in readme] == []


def test_write_fills_every_generated_block_where_it_lives_and_touches_nothing_else(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "plain.md").write_text("# no block\n")
    readme = tmp_path / "README.md"
    readme.write_text("<!-- labelsweep.claims: multiplicity: begin -->\nold\n"
                      "<!-- labelsweep.claims: multiplicity: end -->\n")
    page = tmp_path / "docs" / "results.md"
    page.write_text(f"before\n{report.BEGIN}\nold\n{report.END}\nafter\n")
    monkeypatch.chdir(tmp_path)
    params = load_params(path=ROOT / "params.yaml")
    assert report.write("new\n", params, [], ROOT / "plots") == [Path("README.md"), Path("docs/results.md")]
    assert page.read_text() == f"before\n{report.BEGIN}\nnew\n{report.END}\nafter\n"
    assert claims.blocks(readme.read_text()) == {"multiplicity": claims.render_block("multiplicity", params,
                                                                                     ROOT / "plots")}
    assert (tmp_path / "docs" / "plain.md").read_text() == "# no block\n"


def test_every_claims_block_is_what_the_committed_results_give_wherever_it_lives():
    params = load_params(path=ROOT / "params.yaml")
    found = {(path.name, key): body for path in report.documents(ROOT)
             for key, body in claims.blocks(path.read_text()).items()}
    keys = {key for _, key in found}
    assert "multiplicity" in keys and {f"{name}/prune_vs_baseline" for name in params.datasets} <= keys
    for (name, key), body in found.items():
        assert body == claims.render_block(key, params, ROOT / "plots"), f"{name}'s claims block {key} drifted: " \
            "python -m labelsweep.tooling.report --write"


def bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "render"), [("report", "render_report"), ("precision", "render"),
                                              ("models", "render"), ("own_images", "render"),
                                              ("gpu_report", "render"), ("robust", "render")])
def test_the_benchmark_tables_are_what_the_committed_records_give(name, render):
    """Each benchmark script's table in BENCHMARKS.md is what it renders from its committed record in bench/out."""
    module = bench(name)
    document = (ROOT / "BENCHMARKS.md").read_text()
    assert between(document, module.BEGIN, module.END) == getattr(module, render)()


def test_every_relative_link_of_the_readme_and_docs_names_a_file_that_exists():
    broken = []
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
            if "://" not in target and not (document.parent / target).exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_readmes_first_run_time_is_the_run_of_records():
    """The README's "run of record of <date> ... from an empty cache: N minutes ..., within (or over) ... budget" is
    the benchmark's record of the run of record: its date, its time rounded, and the side of the budget it fell on."""
    record = json.loads((ROOT / "bench" / "out" / "study.json").read_text())
    wall, readme = record["wall_s"], (ROOT / "README.md").read_text()
    assert f"the run of record of {record['machine']['date']}" in readme
    assert f"default grid from an empty cache: {round(wall / 60)} minutes" in readme
    side = "within" if wall <= 2.5 * 3600 else "over"
    assert f"{side} issue 27's 2.5-hour budget" in readme
