"""Full-page screenshots of the views of issues 27 and 29, at 1440 and 1024 pixels wide, in Debian's Chromium.

Starts the app (:func:`featlib.serve.running_app`) on a workspace holding the models of
``bench/views_study.py`` (``mlp``, with checkpoints, and ``cnn``; pass the study's ``--workspace``: its stored
results make the pages quick) and saves, under ``test-artifacts/issue27/`` and ``test-artifacts/issue29/``:

- issue27: Explore with contours and class labels; a search (``label:4 predicted:9``) selection; the "Units that
  tell the selection apart" section; the point inspector with its saliency images (MLP and CNN); the
  "neighbourhood kept" colouring; the Layers page (unit counts, prediction depth, layer flow Sankey);
- issue29: Explore's placed map (test on train) and seed stability; Compare's training scrub and What moved.

    .venv/bin/python bench/view_screenshots.py --workspace WS [--widths 1440,1024] [--only NAME,...] [--scrub-sample N]

Steps (``--only``): kept, cnn, layers, explore, compare, placed, seeds.

Each step that fails is named (with the page's error texts) and the next one runs; a screenshot of the page
as it was is still saved, named ``...-FAILED``. Exit status 1 when a step failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featlib import serve  # noqa: E402
from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from featlib.store import Workspace  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
LONG = 420_000  # ms: a map or a job on a loaded 2-core machine


# Page texts worth reporting: errors, exceptions, warnings.
PROBLEMS = """() => [...document.querySelectorAll(
    '[data-testid=stException], [data-testid=stAlertContentError], [data-testid=stAlertContentWarning]')]
  .map(e => e.innerText.trim().slice(0, 300))"""


def settle(page, timeout_ms: int = LONG) -> None:
    serve.settle(page, timeout_ms)


class Shooter:
    def __init__(self, page, widths: list[int]):
        self.page, self.widths, self.saved, self.problems = page, widths, [], []

    def shoot(self, issue: str, name: str) -> None:
        """A full-page screenshot at each width (the window as tall as the page), then back to the first width."""
        page = self.page
        for width in self.widths:
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(800)  # plotly and Streamlit relayout to the new width
            height = page.evaluate(
                "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section, "
                "[data-testid=stAppViewContainer]')].map(e => e.scrollHeight))"
            )
            page.set_viewport_size({"width": width, "height": min(max(1000, height), 14000)})
            page.wait_for_timeout(800)
            folder = ARTIFACTS / issue
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            self.saved.append(path)
            print(f"saved {path.relative_to(ROOT)} ({height} px tall)", flush=True)
        found = page.evaluate(PROBLEMS)
        for text in found:
            self.problems.append(f"{issue}/{name}: {text}")
            print(f"  on the page: {text}", flush=True)
        page.set_viewport_size({"width": self.widths[0], "height": 1000})
        page.wait_for_timeout(500)


def open_explore(page, url: str, query: dict[str, str]) -> None:
    page.goto(f"{url}/explore?{urlencode(query)}")
    page.locator("h1").filter(has_text="Explore").wait_for(timeout=LONG)
    page.get_by_text("10-NN accuracy of the map").first.wait_for(timeout=LONG)
    page.locator(".st-key-map .js-plotly-plot canvas").first.wait_for(timeout=LONG)
    settle(page)


def goto(page, name: str) -> None:
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=name, exact=True).click()
    page.locator("h1").filter(has_text=name).wait_for(timeout=LONG)


def toggle(page, label: str) -> None:
    page.get_by_text(label, exact=True).first.click()
    settle(page)


def search(page, query: str) -> str:
    box = page.get_by_label("Find points", exact=True)
    box.fill(query)
    page.get_by_role("button", name="Select", exact=True).click()
    settle(page)
    return page.locator("[data-testid=stMain]").inner_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True, help="the workspace of bench/views_study.py")
    parser.add_argument("--widths", default="1440,1024")
    parser.add_argument("--only", default="", help="comma-separated step names (default: all)")
    parser.add_argument("--log", default=str(ARTIFACTS / "views-streamlit.log"))
    parser.add_argument(
        "--scrub-sample", type=int, default=0, help="the training scrub's sample (default: the page's own, 2,000)"
    )
    args = parser.parse_args(argv)
    scrub_sample = args.scrub_sample
    widths = [int(w) for w in args.widths.split(",")]
    only = {s for s in args.only.split(",") if s}
    workspace = Workspace(args.workspace)
    records = {r.name: r for r in workspace.list_models()}
    if "mlp" not in records:
        print(f"no model named mlp in {args.workspace}: run bench/views_study.py --workspace there first")
        return 2
    base = {"dataset": "fashion_mnist", "split": "test", "sample": "all", "reducer": "umap"}
    mlp = {**base, "model": records["mlp"].id, "layer": "dense_1"}
    failed: list[str] = []
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(args.log, "w") as log, running_app(args.workspace, log) as (url, _process):
        print(f"app at {url}", flush=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

            def step(name: str, issue: str, fn) -> None:
                if only and name not in only:
                    return
                context = browser.new_context(viewport={"width": widths[0], "height": 1000})
                page = context.new_page()
                page.set_default_timeout(120_000)
                shooter = Shooter(page, widths)
                start = time.perf_counter()
                print(f"== {name}", flush=True)
                try:
                    fn(page, shooter)
                    print(f"   {name}: {time.perf_counter() - start:.0f} s", flush=True)
                except Exception as exc:
                    failed.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                    traceback.print_exc()
                    try:
                        shooter.shoot(issue, f"{name}-FAILED")
                    except Exception:
                        traceback.print_exc()
                finally:
                    problems.extend(shooter.problems)
                    saved.extend(shooter.saved)
                    context.close()

            problems: list[str] = []
            saved: list[Path] = []

            def explore_test(page, shooter: Shooter) -> None:
                open_explore(page, url, {**mlp, "contours": "on"})
                shooter.shoot("issue27", "explore-contours")
                text = search(page, "label:4 predicted:9")
                if "No point of the map matches" in text:
                    print("   label:4 predicted:9 matches no point; searching label:4 predicted:2", flush=True)
                    search(page, "label:4 predicted:2")
                page.get_by_text("Units that tell the selection apart").first.wait_for(timeout=LONG)
                settle(page)
                shooter.shoot("issue27", "explore-search-selection")
                heading = page.get_by_text("Units that tell the selection apart").first
                heading.scroll_into_view_if_needed()
                for width in widths:  # the section itself, from its heading down
                    page.set_viewport_size({"width": width, "height": 1300})
                    page.wait_for_timeout(800)
                    heading.scroll_into_view_if_needed()
                    page.evaluate(
                        "h => h.closest('[data-testid=stVerticalBlock]') && h.scrollIntoView({block: 'start'})",
                        heading.element_handle(),
                    )
                    page.wait_for_timeout(400)
                    path = ARTIFACTS / "issue27" / f"units-tell-apart-{width}.png"
                    page.screenshot(path=str(path))
                    shooter.saved.append(path)
                    print(f"saved {path.relative_to(ROOT)}", flush=True)
                page.set_viewport_size({"width": widths[0], "height": 1000})
                clear = page.get_by_role("button", name="Clear the selection")
                if clear.count():
                    clear.first.click()
                    settle(page)
                index = serve.click_isolated_point(page, timeout_ms=45_000)
                print(f"   inspected point #{index}", flush=True)
                page.get_by_text("What the model looked at").first.wait_for(timeout=LONG)
                settle(page)
                shooter.shoot("issue27", "explore-inspector-saliency-mlp")

            def explore_seeds(page, shooter: Shooter) -> None:
                open_explore(page, url, mlp)
                toggle(page, "Compare seeds")
                page.get_by_text("Seed stability").first.wait_for(timeout=LONG)
                page.locator(".st-key-seed-stability-map .js-plotly-plot").first.wait_for(timeout=LONG)
                settle(page)
                shooter.shoot("issue29", "explore-seed-stability")

            def explore_kept(page, shooter: Shooter) -> None:
                open_explore(page, url, {**mlp, "colour": "kept"})
                page.get_by_text("neighbourhood kept").first.wait_for(timeout=LONG)
                settle(page)
                shooter.shoot("issue27", "explore-neighbourhood-kept")

            def explore_cnn(page, shooter: Shooter) -> None:
                if "cnn" not in records:
                    raise RuntimeError("no model named cnn in the workspace")
                open_explore(page, url, {**base, "model": records["cnn"].id, "layer": "hidden", "contours": "on"})
                serve.click_isolated_point(page, timeout_ms=45_000)
                page.get_by_text("What the model looked at").first.wait_for(timeout=LONG)
                settle(page)
                shooter.shoot("issue27", "explore-inspector-saliency-cnn")

            def explore_placed(page, shooter: Shooter) -> None:
                open_explore(page, url, {**mlp, "split": "train", "sample": "10000", "placed": "split"})  # by link
                page.locator(".st-key-placed-map .js-plotly-plot").first.wait_for(timeout=LONG)
                settle(page)
                shooter.shoot("issue29", "explore-placed-map-test-on-train")

            def layers_page(page, shooter: Shooter) -> None:
                open_explore(page, url, mlp)
                goto(page, "Layers")
                page.get_by_text("Layer flow").first.wait_for(timeout=LONG)
                page.get_by_text("Dead and near-duplicate units").first.wait_for(timeout=LONG)
                settle(page)
                page.wait_for_timeout(1500)
                shooter.shoot("issue27", "layers-units-depth-flow")

            def compare_page(page, shooter: Shooter) -> None:
                open_explore(page, url, mlp)
                goto(page, "Compare")
                settle(page)
                page.get_by_text("Scrub a training: one layer across its checkpoints").first.click()
                settle(page)
                scrub = page.get_by_test_id("stExpander").filter(has_text="Scrub a training")
                if scrub_sample:
                    size = scrub.get_by_label("Sample size")
                    size.fill(str(scrub_sample))
                    size.press("Enter")
                    settle(page)
                scrub.get_by_role("button", name="Lay out the checkpoints").click()
                page.locator(".st-key-scrub-flow .js-plotly-plot").first.wait_for(timeout=LONG)
                settle(page)
                shooter.shoot("issue29", "compare-training-scrub")
                page.get_by_role("button", name="This layer across checkpoints").first.click()
                page.get_by_text("What moved").first.wait_for(timeout=LONG)
                settle(page)
                page.wait_for_timeout(1500)
                shooter.shoot("issue29", "compare-what-moved")

            step("kept", "issue27", explore_kept)
            step("cnn", "issue27", explore_cnn)
            step("layers", "issue27", layers_page)
            step("explore", "issue27", explore_test)
            step("compare", "issue29", compare_page)
            step("placed", "issue29", explore_placed)
            step("seeds", "issue29", explore_seeds)
            browser.close()

    print("\nscreenshots:")
    for path in saved:
        print(f"  {path.relative_to(ROOT)}")
    print("errors and warnings on the pages:" if problems else "no error or warning shown on the pages")
    for text in problems:
        print(f"  {text}")
    if failed:
        print("failed steps:")
        for text in failed:
            print(f"  {text}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
