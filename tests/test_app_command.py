"""``featlib app``: the installed package's dashboard, started with the repository's Streamlit options."""

from __future__ import annotations

import tomllib
from pathlib import Path

from featlib import cli
from featlib.app import widgets

ROOT = Path(__file__).resolve().parents[1]


def test_the_options_are_those_of_the_repository_config():
    """An installed featlib run from another folder serves as ``make run`` does in the checkout."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    flat = {
        f"{section}.{name}": str(value).lower() if isinstance(value, bool) else str(value)
        for section, options in config.items()
        for name, value in options.items()
    }
    assert cli.APP_OPTIONS == flat


def test_the_entry_point_and_the_pages_are_in_the_package():
    assert cli.APP_SCRIPT.is_file() and cli.APP_SCRIPT.parent == widgets.APP_PAGES.parent
    pages = [
        widgets.HOME_PAGE,
        widgets.MODEL_PAGE,
        widgets.REPRESENTATIONS_PAGE,
        widgets.EXPLORE_PAGE,
        widgets.LAYERS_PAGE,
        widgets.COMPARE_PAGE,
        widgets.WORKSPACE_PAGE,
        widgets.JOBS_PAGE,
    ]
    assert all(Path(page).is_file() and Path(page).parent == widgets.APP_PAGES for page in pages)
    assert not (ROOT / "pages").exists()  # a pages/ folder beside app.py would put Streamlit in its legacy mode


def test_port_and_address_default_to_this_machine():
    args = cli.build_parser().parse_args(["app"])
    assert (args.port, args.address, args.streamlit_options) == (8501, "127.0.0.1", [])
    args = cli.build_parser().parse_args(["app", "--port", "9000", "--address", "0.0.0.0", "--", "--server.x", "1"])
    assert (args.port, args.address, args.streamlit_options) == (9000, "0.0.0.0", ["--server.x", "1"])
