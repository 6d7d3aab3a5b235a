"""The console's assets without a browser: every word the screens use exists in kk, ru and en,
nothing is fetched from outside the project, and the package ships every asset."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from crm_gateway import console

STATIC = Path(str(console.STATIC_DIR))
GATEWAY = Path(console.__file__).resolve().parents[2]
SCRIPTS = sorted((STATIC / "js").rglob("*.js"))


MESSAGE_PARTS = sorted((STATIC / "js" / "messages").glob("*.js"))


def part_keys(part: Path, language: str) -> list[str]:
    block = re.search(rf"^export const {language} = \{{(.*?)^\}};", part.read_text(), re.S | re.M)
    assert block, f"no message block for {language} in {part.name}"
    return re.findall(r'"([\w.]+)":\s*"', block.group(1))


def language_keys(language: str) -> set[str]:
    return {key for part in MESSAGE_PARTS for key in part_keys(part, language)}


def test_every_word_the_screens_use_exists_in_each_language():
    used = set()
    for script in SCRIPTS:
        used |= set(re.findall(r'\bt\("([\w.]+)"', script.read_text()))
    used |= {f"nav.{name}" for name in re.findall(r'menu: "nav\.(\w+)"', (STATIC / "js" / "app.js").read_text())}
    assert len(used) > 150
    for language in ("kk", "ru", "en"):
        missing = used - language_keys(language)
        assert not missing, f"{language} lacks {sorted(missing)}"


def test_the_languages_have_the_same_words():
    english = language_keys("en")
    for language in ("kk", "ru"):
        assert language_keys(language) == english, language


def test_no_word_is_defined_twice():
    every_part = (STATIC / "js" / "messages.js").read_text()
    for part in MESSAGE_PARTS:
        assert f'from "./messages/{part.name}"' in every_part, f"messages.js does not merge {part.name}"
    for language in ("kk", "ru", "en"):
        keys = [key for part in MESSAGE_PARTS for key in part_keys(part, language)]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        assert not twice, f"{language} defines {twice} more than once"


def test_nothing_is_loaded_from_outside_the_project():
    for path in [STATIC / "index.html", STATIC / "console.css", *SCRIPTS]:
        text = path.read_text()
        assert not re.search(
            r"(src|href)=[\"']https?://|url\(\s*[\"']?https?://|import .* from [\"']https?://|"
            r"fetch\([\"'`]https?://",
            text,
        ), path
    for script in SCRIPTS:
        for target in re.findall(r'from "(\.[^"]+)"', script.read_text()):
            assert (script.parent / target).resolve().exists(), f"{script.name} imports missing {target}"


def test_the_package_ships_every_asset():
    patterns = tomllib.loads((GATEWAY / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "crm_gateway"
    ]
    package = STATIC.parents[1]
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assets = {path for path in STATIC.rglob("*") if path.is_file()}
    assert assets - shipped == set()
