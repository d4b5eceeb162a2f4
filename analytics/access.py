"""Who may see which rows and do which actions: the one value every read carries.

Commission and quota figures are private, so the rule cannot live in the pages alone (a
hidden page can still be reached by URL, and a scheduled script never sees a page). An
`Access` travels inside every `Scope`; `Scope` clamps its team/rep filters to it, so each
query built on `owner_filter_sql` returns only the rows the person may see, whatever
filter the URL asks for. Actions that change data (`upload`, `edit_plans`, ...) check
`require(access, action)` in analytics before they touch anything.

Roles:

- ``ops`` (sales operations): everything, and the only role that may change data;
- ``executive``: every row, no changes;
- ``manager``: the reps of one team (the `reps` table's `team`), no changes;
- ``rep``: their own deals, leads and statement (owner name exactly as on deals).

Pure Python: no database, no streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, get_args

Role = Literal["ops", "executive", "manager", "rep"]
ROLES: tuple[str, ...] = get_args(Role)

Action = Literal["upload", "edit_plans", "edit_settings", "lock_period", "record_run"]
ACTIONS: tuple[str, ...] = get_args(Action)

# Which roles may do each action. Only sales operations change data: a manager or an
# executive reads; a rep reads their own statement.
ALLOWED: dict[str, frozenset[str]] = {
    "upload": frozenset({"ops"}),
    "edit_plans": frozenset({"ops"}),
    "edit_settings": frozenset({"ops"}),
    "lock_period": frozenset({"ops"}),
    "record_run": frozenset({"ops"}),
}

_ACTION_WORDS = {
    "upload": "upload data",
    "edit_plans": "edit commission plans",
    "edit_settings": "change settings",
    "lock_period": "lock a commission period",
    "record_run": "record a commission run",
}

# Pages (by file stem) that only some roles may open; every other page is open to all.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "data": frozenset({"ops"}),
    "settings": frozenset({"ops"}),
}


class AccessDenied(PermissionError):
    """A read or an action outside what the signed-in person may see or do.

    The message is meant for the user: it names what was refused and why.
    """


@dataclass(frozen=True)
class Access:
    """Who is asking (`user`, for the audit log) and what they may see.

    `team` is set for managers only, `rep` for reps only; ops and executives have
    neither (None = no restriction). Build it with the class methods, which check that
    the pieces fit the role.
    """

    role: Role
    user: str
    team: str | None = None
    rep: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}: use {', '.join(ROLES)}")
        if self.role == "manager" and not self.team:
            raise ValueError(f"manager {self.user!r} has no team")
        if self.role == "rep" and not self.rep:
            raise ValueError(f"rep {self.user!r} is not linked to a rep name")
        if self.role in ("ops", "executive") and (self.team or self.rep):
            raise ValueError(f"{self.role} {self.user!r} sees everything: no team or rep")
        if self.role == "manager" and self.rep:
            raise ValueError(f"manager {self.user!r} is restricted by team, not by rep")
        if self.role == "rep" and self.team:
            raise ValueError(f"rep {self.user!r} is restricted to their own rows, not a team")

    @classmethod
    def ops(cls, user: str = "command line") -> Access:
        """Everything: the command line, scheduled reports, and the open local mode."""
        return cls("ops", user)

    @classmethod
    def executive(cls, user: str) -> Access:
        return cls("executive", user)

    @classmethod
    def manager(cls, user: str, team: str) -> Access:
        return cls("manager", user, team=team)

    @classmethod
    def for_rep(cls, user: str, rep: str) -> Access:
        return cls("rep", user, rep=rep)

    def for_reading(self) -> Access:
        """The same rights under the role's name instead of the person's: what figures
        read with it depend on.

        Pages cache figures per Scope, and Streamlit's cache key holds every field of it,
        so with the e-mail inside, two managers of one team (or two executives) each
        computed and kept their own copy of the same figures (issue 15, many managers at
        once). Actions that are audited keep the signed-in person's own Access.
        """
        return replace(self, user=self.describe())

    @property
    def sees_everything(self) -> bool:
        return self.team is None and self.rep is None

    def describe(self) -> str:
        """e.g. 'manager of team East' -- shown beside the sign-out button."""
        if self.role == "manager":
            return f"manager of team {self.team}"
        if self.role == "rep":
            return f"rep {self.rep}"
        return {"ops": "sales operations", "executive": "executive"}[self.role]


EVERYTHING = Access.ops()


def can(access: Access, action: str) -> bool:
    if action not in ALLOWED:
        raise ValueError(f"unknown action {action!r}: use {', '.join(ACTIONS)}")
    return access.role in ALLOWED[action]


def require(access: Access, action: str) -> None:
    """Raise AccessDenied unless the access may do `action`."""
    if not can(access, action):
        raise AccessDenied(
            f"{access.user} ({access.describe()}) may not {_ACTION_WORDS[action]}: "
            "only sales operations can"
        )


def may_open(access: Access, page: str) -> bool:
    """Whether the role may open a page (by its file stem, e.g. 'data')."""
    allowed = PAGE_ROLES.get(page)
    return allowed is None or access.role in allowed
