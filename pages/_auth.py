"""Who is signed in: OpenID Connect, local accounts, or the open local mode.

dashboard.py asks `resolve_access()` before it builds the page list; the answer decides
which pages exist for this person and is carried into every Scope (analytics.access),
so hiding a page is only the visible half of the rule. Three modes, chosen on every run
(so adding the first account closes the open mode at once):

- ``oidc``: secrets.toml has an ``[auth]`` section. Streamlit's `st.login` proves who the
  person is; the roles file (analytics.users.load_roles) says what they may see.
- ``local``: the `users` table has accounts. A sign-in form checks the argon2id hash.
- ``open``: neither. Everyone is sales operations, but only from this machine: a request
  from anywhere else is refused, because the data is private.

The leading underscore keeps Streamlit from listing this file as a page.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Literal

import duckdb
import streamlit as st

from analytics import audit, users
from analytics.access import Access
from analytics.markup import md
from pages import _ui

log = logging.getLogger("dashboard")

Mode = Literal["oidc", "local", "open"]
ACCESS_KEY = "auth:access"  # session_state: (mode, Access) of the signed-in person
REFUSED_KEY = "auth:refused"  # session_state: why the last sign-in was refused
OPEN_MODE_USER = "local (open mode)"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def current_access() -> Access:
    """The Access of this run's signed-in person (dashboard.py decides it first)."""
    found = st.session_state.get(ACCESS_KEY)
    if found is None:  # only when a page is run without the entry script
        raise RuntimeError("nobody is signed in: start the app with `streamlit run dashboard.py`")
    return found[1]


# --- which mode ----------------------------------------------------------------------------


def _auth_section() -> Mapping | None:
    """The [auth] section of secrets.toml, or None (no file, or no such section)."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets.toml at all: Streamlit raises rather than returning {}
        return None
    return section or None


def mode(has_accounts: bool) -> Mode:
    if _auth_section() is not None:
        return "oidc"
    return "local" if has_accounts else "open"


def _is_loopback(address: str) -> bool:
    text = address.strip().strip("[]")
    if text.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def is_local_request() -> bool:
    """Whether this browser connects from this machine, directly (not through a proxy).

    Streamlit reports no IP address for loopback connections; a proxy in front would be
    loopback too, so a forwarding header or a Host other than localhost counts as remote.
    """
    ip = st.context.ip_address
    if isinstance(ip, str) and ip and not _is_loopback(ip):  # (AppTest has no real socket)
        return False
    headers = st.context.headers
    forwarded = headers.get("X-Forwarded-For") or headers.get("X-Real-Ip")
    if forwarded and not all(_is_loopback(part) for part in forwarded.split(",")):
        return False
    if headers.get("Forwarded"):
        return False
    host = headers.get("Host") or ""
    if host:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not _is_loopback(name):
            return False
    return True


# --- resolving the signed-in person ------------------------------------------------------------


def resolve_access() -> tuple[Mode, Access | None]:
    """The mode and the signed-in person's Access, or None when nobody may see anything
    yet (the caller then shows `gate_page`). Draws nothing."""
    with _ui.cursor() as cur:
        accounts = users.has_accounts(cur)
        current = mode(accounts)
        kept = st.session_state.get(ACCESS_KEY)
        if kept is not None and kept[0] != current:  # mode changed (first account added)
            st.session_state.pop(ACCESS_KEY, None)
            kept = None
        if current == "open":
            if not is_local_request():
                return current, None
            access = Access.ops(OPEN_MODE_USER)
            st.session_state[ACCESS_KEY] = (current, access)
            return current, access
        if current == "oidc":
            return current, _oidc_access(cur, kept)
        if kept is None:
            return current, None
        # Re-read the account on every run: a removed or changed account takes effect now.
        account = users.get_account(cur, kept[1].user)
        try:
            access = users.access_for(cur, account) if account else None
        except users.SignInRefused as exc:
            st.session_state[REFUSED_KEY] = str(exc)
            access = None
        if access is None:
            st.session_state.pop(ACCESS_KEY, None)
            return current, None
        st.session_state[ACCESS_KEY] = (current, access)
        return current, access


def _logged_in() -> bool:
    """st.user's flag; absent (not False) where Streamlit did not see the [auth] section."""
    return bool(st.user.get("is_logged_in", False))


def _oidc_access(cur: duckdb.DuckDBPyConnection, kept: tuple[Mode, Access] | None) -> Access | None:
    if not _logged_in():
        st.session_state.pop(ACCESS_KEY, None)
        return None
    email = str(st.user.get("email") or "")
    try:
        access = users.oidc_access(cur, email, users.load_roles())
    except (users.SignInRefused, users.AccountError) as exc:
        if st.session_state.get(REFUSED_KEY) != str(exc):
            audit.record(
                cur, email or "(no e-mail)", "sign_in_failed", method="oidc", reason=str(exc)
            )
        st.session_state[REFUSED_KEY] = str(exc)
        return None
    if kept is None or kept[1] != access:
        users.record_sign_in(cur, access, "oidc")
    st.session_state.pop(REFUSED_KEY, None)
    st.session_state[ACCESS_KEY] = ("oidc", access)
    return access


# --- drawing -------------------------------------------------------------------------------------


def gate_page() -> None:
    """What someone not (yet) allowed in sees: a sign-in, or why they cannot."""
    st.title("Sales performance")
    with _ui.cursor() as cur:
        current = mode(users.has_accounts(cur))
    if current == "open":
        st.error(
            "This dashboard has no accounts yet, so it only opens on the machine it runs on. "
            "To open it from elsewhere, create accounts first: "
            "`python -m analytics users add EMAIL --role ops` on the server."
        )
        return
    refused = st.session_state.get(REFUSED_KEY)
    if current == "oidc":
        _oidc_form(refused)
        return
    _local_form(refused)


def _providers() -> list[str | None]:
    """Named providers ([auth.google] ...), or [None] for a single flat [auth] section."""
    section = _auth_section() or {}
    named = [k for k, v in section.items() if isinstance(v, Mapping)]
    return [None] if "client_id" in section or not named else named


def _oidc_form(refused: str | None) -> None:
    if refused and _logged_in():
        st.error(f"Signed in, but {md(refused)}.")
        if st.button("Sign out", key="auth:oidc_out"):
            st.session_state.pop(REFUSED_KEY, None)
            st.logout()
        return
    st.write("Sign in with your company account to see the figures you are allowed to see.")
    for provider in _providers():
        label = "Sign in" if provider is None else f"Sign in with {provider.title()}"
        if st.button(label, key=f"auth:login:{provider}", type="primary"):
            if provider is None:
                st.login()
            else:
                st.login(provider)


def _local_form(refused: str | None) -> None:
    st.write("Sign in to see the figures you are allowed to see.")
    with st.form("auth:signin"):
        email = st.text_input("E-mail", key="auth:email")
        password = st.text_input("Password", type="password", key="auth:password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            with _ui.cursor() as cur:
                access = users.authenticate(cur, email, password)
        except users.SignInRefused as exc:
            st.session_state[REFUSED_KEY] = str(exc)
            st.error(f"Sign-in refused: {md(exc)}.")
            return
        st.session_state.pop(REFUSED_KEY, None)
        st.session_state[ACCESS_KEY] = ("local", access)
        st.rerun()
    elif refused:
        st.warning(md(refused))


def account_box(current: Mode, access: Access) -> None:
    """Sidebar: who is signed in and a sign-out button (or the open-mode warning)."""
    with st.sidebar:
        if current == "open":
            st.warning(
                "No accounts configured: open to this machine only. Add accounts with "
                "`python -m analytics users add`.",
                icon=":material/lock_open:",
            )
            return
        st.caption(f"Signed in as **{md(access.user)}** ({md(access.describe())})")
        if st.button("Sign out", key="auth:signout", icon=":material/logout:"):
            with _ui.cursor() as cur:
                users.record_sign_out(cur, access)
            st.session_state.pop(ACCESS_KEY, None)
            if current == "oidc":
                st.logout()
            else:
                st.rerun()
