"""Build targets (GOOS/GOARCH pairs): parsed from the command line, the release's defaults, and this machine's."""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Target:
    goos: str
    goarch: str

    @classmethod
    def parse(cls, text: str) -> Target:
        parts = text.strip().split("/")
        if len(parts) != 2 or not all(re.fullmatch(r"[a-z0-9]+", p) for p in parts):
            raise ValueError(f"target {text!r} is not of the form GOOS/GOARCH, e.g. linux/amd64")
        return cls(parts[0], parts[1])

    def __str__(self) -> str:
        return f"{self.goos}/{self.goarch}"

    @property
    def slug(self) -> str:
        return f"{self.goos}-{self.goarch}"

    @property
    def extension(self) -> str:
        # getFileExtension: .zip only when the *installing* machine runs Windows.
        return ".zip" if self.goos == "windows" else ".tar.gz"


DEFAULT_TARGETS: tuple[Target, ...] = tuple(
    Target(goos, goarch) for goos in ("linux", "darwin", "windows") for goarch in ("amd64", "arm64")
)


def parse_targets(text: str) -> list[Target]:
    targets = [Target.parse(part) for part in re.split(r"[,\s]+", text.strip()) if part]
    if not targets:
        raise ValueError("no targets given")
    return sorted(set(targets))


def host_target() -> Target:
    goos = platform.system().lower()
    machine = platform.machine().lower()
    goarch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return Target(goos, goarch)
