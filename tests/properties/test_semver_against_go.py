"""Our release versions against Go's own semver (golang.org/x/mod/semver): the same verdict on validity
(Go's shorthands ``v1``/``v1.2`` aside, which no release tag may use) and the same order; and an order total
enough that ``max()`` over tags (the previous tag, ``make_latest``) never depends on the input order."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.semver import Version
from tests.fixtures.oracles import GoSemver

NUMBERS = st.one_of(st.integers(0, 12).map(str), st.sampled_from(["00", "01", "007", "99999999999999999999"]))
IDENT = st.one_of(NUMBERS, st.text("abcxyzRC-0123456789", min_size=1, max_size=6), st.sampled_from(["", "٣", "１"]))


@st.composite
def semver_like(draw: st.DrawFn) -> str:
    """Mostly near-valid tags: where hand-written parsers go wrong (leading zeros, empty identifiers,
    Unicode digits, missing parts, build metadata)."""
    core = ".".join(draw(NUMBERS) for _ in range(draw(st.sampled_from([3, 3, 3, 2, 1, 4]))))
    tag = draw(st.sampled_from(["v", "v", "v", "", "V"])) + core
    if draw(st.booleans()):
        tag += "-" + ".".join(draw(st.lists(IDENT, min_size=1, max_size=3)))
    if draw(st.booleans()):
        tag += "+" + ".".join(draw(st.lists(IDENT, min_size=1, max_size=2)))
    return tag + draw(st.sampled_from(["", "", "", "\n", " ", "٣"]))


TAGS = st.one_of(semver_like(), st.text(max_size=12).map(lambda s: "v" + s), st.text(max_size=12))
SHORTHAND = re.compile(r"^v\d+(\.\d+)?([-+].*)?$", re.ASCII)


def ours(tag: str) -> Version | None:
    try:
        return Version.parse(tag)
    except UserError as exc:
        assert "\n" not in exc.message.replace(repr(tag), "") and len(exc.message) < 400
        return None


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@given(TAGS, TAGS)
@example("v1.0.1٣", "v1.0.0")  # Unicode digits: parsed as patch 13 before
@example("v1.0.0", "v1.0.0+build.1")  # each compared greater than the other before
@example("v1.0.0-01", "v1.0.0")  # a numeric prerelease identifier with a leading zero
@example("v1.0.0\n", "v1.0.0")  # `$` matched before a trailing newline
def test_validity_and_order_match_go(go_semver: GoSemver, a: str, b: str) -> None:
    go_valid_a, go_valid_b, go_compare = go_semver.ask(a, b)
    for tag, go_valid in ((a, go_valid_a), (b, go_valid_b)):
        mine = ours(tag)
        if go_valid and SHORTHAND.match(tag) and mine is None:
            continue  # Go's shorthand for v1.0.0 / v1.2.0; a release tag must spell all three numbers
        assert (mine is not None) == go_valid, f"{tag!r}: we say {mine is not None}, Go says {go_valid}"
    va, vb = ours(a), ours(b)
    if va is None or vb is None:
        return
    mine = (va > vb) - (va < vb)
    if go_compare == 0:
        assert (mine == 0) == (a == b)  # equal precedence: ordered by the text, never both ways
    else:
        assert mine == sign(go_compare), f"{a} vs {b}: we say {mine}, Go says {go_compare}"
    assert not (va < vb and vb < va)  # noqa: PLR1716 -- spelled out: the bug was both holding at once
    assert not (va > vb and vb > va)  # noqa: PLR1716


@given(st.lists(semver_like(), min_size=1, max_size=8), st.randoms())
@example(["v1.0.0", "v1.0.0+build.1"], None)
def test_max_of_tags_does_not_depend_on_their_order(tags: list[str], rng: object) -> None:
    versions = [v for v in map(ours, tags) if v is not None]
    if not versions:
        return
    shuffled = list(versions)
    if rng is not None:
        rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert max(versions) == max(reversed(versions)) == max(shuffled)
    assert sorted(versions) == sorted(shuffled)
