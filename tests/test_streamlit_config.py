"""The Streamlit settings the app relies on are the ones Streamlit itself reads.

Why read them through Streamlit rather than only parse the file: a misspelt key or a
wrong section is silently ignored by Streamlit, and the setting would quietly be back to
its default (usage statistics sent from every manager's browser, a full garbage
collection after every rerun).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_config() -> Iterator[None]:
    here = Path.cwd()
    os.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from the folder it starts in
    try:
        config.get_config_options(force_reparse=True)
        yield
    finally:
        os.chdir(here)
        config.get_config_options(force_reparse=True)


@pytest.mark.parametrize(
    ("option", "wanted"),
    [
        ("browser.gatherUsageStats", False),
        ("runner.postScriptGC", False),
        ("client.showErrorDetails", "none"),
        ("server.enableStaticServing", False),
    ],
)
def test_streamlit_reads_the_projects_setting(
    project_config: None, option: str, wanted: object
) -> None:
    assert config.get_option(option) == wanted
    assert config.get_where_defined(option).endswith(str(Path(".streamlit") / "config.toml"))
