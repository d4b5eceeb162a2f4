"""Every setting and environment variable the app reads is documented in the README.

Settings are data (the `settings` table) and environment variables are easy to add in a
hurry; either one missing from the README's configuration is a setting nobody can find.
The test finds them in the code, so a new one fails here until it is written down.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

from analytics import db, scope, scoring, settings, users

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _constants(modules: list[ModuleType], suffix: str) -> list[str]:
    return sorted(
        {
            value
            for module in modules
            for name, value in vars(module).items()
            if name.endswith(suffix) and isinstance(value, str)
        }
    )


SETTINGS_KEYS = _constants([settings, scope, scoring], "_KEY")
ENV_VARS = sorted(
    {*_constants([db, users], "_ENV"), *re.findall(r"environ\.get\(\"([A-Z_]+)\"", "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "analytics").rglob("*.py")
    ))}
)  # fmt: skip


def test_the_walk_found_the_known_ones() -> None:
    assert {"stages", "lead_scoring", "fiscal_year_start_month", "upload_limits"} <= set(
        SETTINGS_KEYS
    )
    assert {"SALES_DB", "SALES_MEMORY_LIMIT", "SALES_ROLES"} <= set(ENV_VARS)


@pytest.mark.parametrize("key", SETTINGS_KEYS)
def test_settings_key_is_in_the_readme(key: str) -> None:
    assert f"`{key}`" in README, f"settings key {key!r} is not in the README's Configuration"


@pytest.mark.parametrize("name", ENV_VARS)
def test_environment_variable_is_in_the_readme(name: str) -> None:
    assert f"${name}" in README, f"${name} is not in the README's Configuration"
