"""cnas report: a page of real runs, opened in a real headless browser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

SMALL = ["--resolution", "16", "--width-mult", "0.5", "--depth-mult", "0.5", "--no-progress"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A directory holding two real runs, as make demo's does: a search and a family."""
    from experiments.cli import main

    root = tmp_path_factory.mktemp("runs")
    search = [
        "search", "--target-flops", "12M", "--evaluator", "zero-cost", *SMALL,
        "--max-samples", "200", "--trials", "3", "--backend", "local", "--out",
        str(root / "search"),
    ]  # fmt: skip
    assert main(search) == 0
    family = ["family", "efficientnet-b0", "--table", "efficientnet", "--phis", "0-2"]
    family += ["--out", str(root / "family")]
    assert main(family) == 0
    return root


def test_each_command_is_recorded_in_its_run_directory(runs):
    lines = (runs / "search" / "commands.jsonl").read_text().splitlines()
    assert len(lines) == 1
    recorded = json.loads(lines[0])
    assert recorded["command"].startswith("cnas search --target-flops 12M")
    assert recorded["finished"] and recorded["cwd"]


def test_one_page_with_a_section_per_run_and_a_markdown_twin(runs, cnas):
    code, stdout, stderr = cnas("report", str(runs), "--json")
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["runs"] == 2
    page = Path(document["html"]).read_text()
    twin = Path(document["markdown"]).read_text()
    # In the order they were made: the search, then the family.
    assert page.index("<h2>Search for a baseline") < page.index("<h2>Scaled family")
    assert page.count("data:image/png;base64,") == 2  # pareto.png, family.png, embedded
    assert "cnas search --target-flops 12M" in page and "cnas family efficientnet-b0" in page
    assert "Baseline: trial" in page
    assert "](search/pareto.png)" in twin and "## Scaled family" in twin
    assert "| name |" in twin or "| name " in twin


@pytest.mark.browser
def test_the_page_renders_in_a_real_browser(runs, cnas):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is not installed (make test installs it: make chromium); "
            "the report is checked in a real browser"
        )
    from playwright.sync_api import sync_playwright

    assert cnas("report", str(runs / "search"))[0] == 0
    page_path = runs / "search" / "report.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.goto(page_path.as_uri())
            # Every plot decoded to a real picture, not a broken-image icon.
            sizes = page.eval_on_selector_all(
                "img", "images => images.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            assert sizes and all(done and w > 300 and h > 200 for done, w, h in sizes)
            assert page.locator("h2").all_inner_texts() == ["Search for a baseline"]
            tables = page.locator("table")
            assert tables.count() >= 3  # summary, trials, pareto
            trials = page.locator("h3:text-is('trials.csv') + div.wide table tbody tr")
            assert trials.count() == 3
            assert "Baseline: trial" in page.locator("p.verdict").inner_text()
        finally:
            browser.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "nothing", "is not a directory"),
        (lambda tmp: tmp, "holds no run of a known kind"),
    ],
)
def test_a_directory_of_no_known_run_is_refused_in_one_line(tmp_path, cnas, make, message):
    (tmp_path / "notes.txt").write_text("not a run")
    code, _, stderr = cnas("report", str(make(tmp_path)))
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report.html").exists()


def test_out_must_be_an_html_file(runs, tmp_path, cnas):
    code, _, stderr = cnas("report", str(runs / "family"), "--out", str(tmp_path / "r.txt"))
    assert code == 2 and "must end in .html" in stderr
    assert not list(tmp_path.iterdir())
