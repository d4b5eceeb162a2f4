"""Plumbing shared by the pages that edit data (Settings, Commissions).

Editors follow one pattern: validate the whole table, save nothing when anything is wrong
and list every problem, otherwise save, start the editor afresh and say so once after the
rerun. Keeping it in one place keeps the pages consistent in what a save feels like.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from analytics.markup import md
from pages import _ui

FLASH_KEY = "edit:flash"  # session_state: (section, message) shown once after a rerun


def flash(section: str) -> None:
    """Show the success message a save left before its rerun (once)."""
    message = st.session_state.get(FLASH_KEY)
    if message and message[0] == section:
        st.success(md(message[1]))
        st.session_state.pop(FLASH_KEY, None)


def editor_key(name: str) -> str:
    """The editor's widget key: its name plus a version bumped by every save.

    A fresh key after a save makes the browser drop the grid's pending edits too (they
    are now the saved data); clearing the server-side state alone would leave them on
    screen and apply them a second time.
    """
    return f"{name}:{st.session_state.get(f'{name}:version', 0)}"


def saved(section: str, message: str, *editors: str) -> None:
    """After a save: start the editors afresh from the saved data, show `message`, rerun."""
    st.session_state[FLASH_KEY] = (section, message)
    for name in editors:
        st.session_state.pop(editor_key(name), None)
        st.session_state[f"{name}:version"] = st.session_state.get(f"{name}:version", 0) + 1
    st.rerun()


def problems(what: str, found: list[str]) -> None:
    """Every problem at once, so one save attempt shows everything to fix."""
    st.error(
        f"Nothing saved: the {what} {'has a problem' if len(found) == 1 else 'have problems'}"
        ":\n\n" + "\n".join(f"- {md(p)}" for p in found)
    )


def guarded(what: str, section: Callable[[], None]) -> None:
    """Run one section; an unexpected failure is one sentence and leaves the others usable.

    st.rerun's control exception is a BaseException, so it passes through untouched.
    """
    try:
        section()
    except Exception as exc:  # e.g. the database is locked by another process
        _ui.friendly_error(what, exc)
