"""Release versions: ``v`` + semver, as ``gatewayd plugin install …@<tag>`` resolves them, and their precedence."""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering

from gatewayd_plugin_actions import contract
from gatewayd_plugin_actions.errors import Problem, UserError, shorten


@total_ordering
@dataclass(frozen=True)
class Version:
    tag: str  # with the leading "v"
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]

    @classmethod
    def parse(cls, tag: str) -> Version:
        match = contract.SEMVER_RE.match(tag[1:]) if tag.startswith("v") else None
        if match is None:
            raise UserError(
                f"version {shorten(tag, 80)!r} is not a tag `gatewayd plugin install github.com/<o>/<r>@<tag>` can "
                "resolve: it must be 'v' + semver, e.g. v1.2.3 or v1.2.3-rc.1",
                [Problem(f"invalid version tag {shorten(tag, 80)!r}: expected "
                         "v<major>.<minor>.<patch>[-prerelease]")])
        pre = tuple(match["pre"].split(".")) if match["pre"] else ()
        return cls(tag, int(match["major"]), int(match["minor"]), int(match["patch"]), pre)

    @property
    def number(self) -> str:
        """The tag without its ``v``: what ``-X …Version=`` injects and GatewayD reports."""
        return self.tag[1:]

    def is_reported_as(self, reported: str) -> bool:
        """Whether a plugin that reports ``reported`` (GatewayD's GetPlugins shows the plugin's own
        ``id.version`` verbatim) reports this version: the injected number, or the tag itself."""
        return reported in (self.number, self.tag)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...], str]:
        # semver precedence: a release sorts after its prereleases; numeric identifiers before alphanumerics.
        # Tags that semver ranks equal (they differ only in +build) are ordered by their text, so that this is a
        # total order consistent with ==, and max() over tags gives the same answer in any input order.
        ids = tuple((0, int(p)) if p.isascii() and p.isdigit() else (1, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, ids, self.tag)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()
