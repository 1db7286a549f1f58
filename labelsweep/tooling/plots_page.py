"""The offline `dvc plots show` page: write the JavaScript it loads, and check a rendered page in a headless browser.

    python -m labelsweep.tooling.plots_page install [JS]  # make setup: Vega, Vega-Lite, Vega-Embed
    python -m labelsweep.tooling.plots_page check PAGE [--expect PLOT_ID ...] [--screenshot PNG]

install writes one classic script to JS (by default .venv/share/vega/vega-bundle.js, where .dvc/plots/page.html
looks for it): vl-convert-python's bundle of the three libraries, with the newest Vega-Lite of the major version
that the templates in .dvc/plots declare.

check opens PAGE (e.g. dvc_plots/index.html) in headless Chromium, lets its scripts run (virtual time), reads the
resulting DOM and fails (exit 1, one line per problem) on: a JavaScript error or warning the page recorded (the
page must come from .dvc/plots/page.html, which records them and says when every chart is drawn); a chart
whose container holds no SVG, no marks, or a coordinate that is NaN; an image that is not a file next to the
page; and, with --expect (plot ids as `dvc plots show --json` names them, e.g. plots/roman/gallery.png), a figure
that is missing, shown twice or not expected. --screenshot saves the whole page as a PNG.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from labelsweep.artifacts import atomic_path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JS = ROOT / ".venv" / "share" / "vega" / "vega-bundle.js"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VEGA_LITE_MAJOR = "6"  # the "$schema" of the templates in .dvc/plots: another major makes Vega-Embed warn
WIDTH = 1500
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def install(dest: Path) -> None:
    import vl_convert

    version = max((v for v in vl_convert.get_vegalite_versions() if v.split(".")[0] == VEGA_LITE_MAJOR),
                  key=lambda v: tuple(map(int, v.split("."))))
    header = (f"// Vega {vl_convert.get_vega_version()}, Vega-Lite {version}, Vega-Embed "
              f"{vl_convert.get_vega_embed_version()}: vl-convert-python "
              f"{importlib.metadata.version('vl-convert-python')}, written by "
              "labelsweep/tooling/plots_page.py install\n")
    with atomic_path(dest) as tmp:
        tmp.write_text(header + vl_convert.javascript_bundle(vl_version=version), encoding="utf-8")
    print(f"{dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}: {header[3:].split(':')[0]}")


def browser() -> str | None:
    """Chromium's executable ($CHROMIUM, else the first of BROWSERS on PATH), or None."""
    return os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)


def chromium(page: Path, *args: str) -> str:
    """Run headless Chromium on `page` with a fresh profile; its stdout."""
    exe = browser()
    if exe is None:
        sys.exit(f"error: no Chromium ({', '.join(BROWSERS)} or $CHROMIUM): apt-get install -y chromium")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--virtual-time-budget=30000", *args, page.resolve().as_uri()]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        sys.exit(f"error: {exe} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout


class Node:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Tree(HTMLParser):
    """The DOM Chromium dumps, as a tree of Nodes: tags and attributes (text is not kept)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if any(node.tag == tag for node in self.stack[1:]):
            while self.stack.pop().tag != tag:
                pass


def dvc_id(plot_id: str) -> str:
    """The HTML id DVC gives a plot's container (dvc_render's Renderer.remove_special_chars)."""
    return plot_id.translate({ord(c): "_" for c in r"!@#$%^&*()[]{};,<>?\/:.|`~=_+ "})


def page_problems(html: Node, dom: str) -> list[str]:
    """What the page's own script reported: whether it finished drawing, its errors and warnings."""
    problems = []
    state = html.attrs.get("data-plots-state")
    if state != "done":
        problems.append(f"the page did not finish drawing (data-plots-state={state!r}; is it rendered with "
                        ".dvc/plots/page.html, and its JavaScript installed by make setup?)")
    errors = int(html.attrs.get("data-plots-errors", "0") or 0)
    if errors:
        text = re.search(r'id="plots-errors"[^>]*>(.*?)</div>', dom, re.S)
        problems.append(f"{errors} JavaScript error(s): {text.group(1).strip() if text else '?'}")
    return problems + [f"JavaScript warning: {w}" for w in json.loads(html.attrs.get("data-plots-warnings", "[]")
                                                                       or "[]")]


def figure_problems(page: Path, figure: Node, charts: set[str]) -> list[str]:
    """A chart must be drawn with marks and no NaN coordinate; anything else must be a PNG image next to the page."""
    name, problems = figure.attrs["id"], []
    if name in charts:
        svgs = [n for n in figure.walk() if n.tag == "svg"]
        marks = [child for n in figure.walk() if "role-mark" in n.classes() and "mark-group" not in n.classes()
                 for child in n.children]
        nan = [n for n in figure.walk() if any("NaN" in v for v in n.attrs.values())]
        if not svgs:
            problems.append(f"{name}: blank, no chart drawn")
        elif not marks:
            problems.append(f"{name}: a chart without any marks (no data drawn)")
        if nan:
            problems.append(f"{name}: {len(nan)} element(s) with NaN coordinates")
        return problems
    images = [n.attrs.get("src", "") for n in figure.walk() if n.tag == "img"]
    if not images:
        problems.append(f"{name}: neither a chart nor an image")
    for src in images:
        path = page.parent / src
        if src.startswith("data:") or not path.is_file() or path.read_bytes()[:4] != b"\x89PNG":
            problems.append(f"{name}: image {src} is not a PNG file next to the page")
    return problems


def expectation_problems(ids: list[str], expect: list[str]) -> list[str]:
    """Every expected plot shown exactly once, and nothing shown that was not expected (no expectation: none)."""
    problems = []
    for plot_id in expect:
        found = [i for i in ids if i == dvc_id(plot_id) or i.endswith("__" + dvc_id(plot_id))]
        if len(found) != 1:
            problems.append(f"{plot_id}: shown {len(found)} times, expected once")
    if expect:
        wanted = {dvc_id(p) for p in expect}
        problems += [f"{i}: not expected" for i in ids if not any(i == w or i.endswith("__" + w) for w in wanted)]
    return problems


def check(page: Path, expect: list[str], screenshot: Path | None) -> list[str]:
    """The page as headless Chromium draws it: its script's report, every figure, the expected plots; and a
    screenshot of the whole page where asked."""
    charts = set(re.findall(r"vegaEmbed\('#([^']+)'", page.read_text(encoding="utf-8")))
    dom = chromium(page, f"--window-size={WIDTH},1000", "--dump-dom")
    root = Tree(dom).root
    html = next((n for n in root.walk() if n.tag == "html"), root)
    box = next((n for n in root.walk() if n.attrs.get("id") == "plots-errors"), None)
    body = next((n for n in root.walk() if n.tag == "body"), root)
    figures = [n for n in body.children if n.tag == "div" and n.attrs.get("id") and n is not box]
    ids = [f.attrs["id"] for f in figures]
    problems = page_problems(html, dom) + [p for figure in figures for p in figure_problems(page, figure, charts)]
    problems += expectation_problems(ids, expect)
    if screenshot is not None:
        height = min(int(html.attrs.get("data-plots-height", "3000") or 3000) + 40, 16000)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        chromium(page, f"--window-size={WIDTH},{height}", f"--screenshot={screenshot.resolve()}")
    print(f"{page}: {len([i for i in ids if i in charts])} charts, {len([i for i in ids if i not in charts])} "
          f"images, {len(problems)} problem(s)" + (f"; screenshot {screenshot}" if screenshot else ""))
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="write the JavaScript").add_argument("js", nargs="?", type=Path,
                                                                              default=DEFAULT_JS)
    checking = commands.add_parser("check", help="check a rendered page in headless Chromium")
    checking.add_argument("page", type=Path, help="the page dvc plots show wrote (dvc_plots/index.html)")
    checking.add_argument("--expect", nargs="*", default=[], help="plot ids that must appear, each once, and no other")
    checking.add_argument("--screenshot", type=Path, help="save the whole page as this PNG")
    args = parser.parse_args()
    if args.command == "install":
        install(args.js.resolve())
        return
    problems = check(args.page, args.expect, args.screenshot)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
