"""Possessive quantifiers that match correctly on every Python 3.11.

Python before 3.11.5 matches some possessive quantifiers wrongly (CPython gh-106052 and
gh-100061: a possessive repeat of a subpattern that can backtrack, nested in another repeat).
Debian 12's python3, the one in the sidecar's image, is 3.11.2: there the dump scanner's gap
expression matched nothing after `/*M!999999\\- enable the sandbox mode */`, and every real
dump was reported cut short. CPython's own first fix was to run `X*+` as `(?>X*)`; this does
the same to a pattern before it is compiled, on every version, so that the tests that prove
the scanner prove what runs everywhere. Atomic groups were not affected by either bug.
"""

import re

_QUANTIFIER = re.compile(rb"[*+?]|\{\d+(?:,\d*)?\}|\{,\d+\}")
# What follows `(?`: `:`, `=`, `!`, `>`, `<=`, `<!`, `P<name>`, `P=name)`, or inline flags.
_GROUP_KIND = re.compile(rb"\?(?:[:=!>]|<[=!]|P<[^>]*>|P=|[aiLmsux-]+:?)")


def atomic(pattern: bytes) -> bytes:
    """`pattern` with every possessive quantifier `X*+`, `X++`, `X?+`, `X{m,n}+` written as
    the atomic group `(?>X*)`, `(?>X+)`, `(?>X?)`, `(?>X{m,n})`: the same language."""
    out = bytearray()
    opened: list[int] = []  # where each open group starts in `out`
    atom = 0  # where the last complete atom starts in `out`
    i = 0
    while i < len(pattern):
        quantifier = _QUANTIFIER.match(pattern, i) if out else None
        if quantifier:
            end = quantifier.end()
            follower = pattern[end : end + 1]
            if follower == b"+":
                out[atom:] = b"(?>" + out[atom:] + quantifier.group() + b")"
            else:
                out += quantifier.group() + (follower if follower == b"?" else b"")
            i = end + (1 if follower in (b"+", b"?") else 0)
            continue
        atom = len(out)
        char = pattern[i : i + 1]
        if char == b"\\":
            step = 4 if pattern[i + 1 : i + 2] == b"x" else 2
        elif char == b"[":
            step = _class_end(pattern, i) - i
        elif char == b"(":
            opened.append(atom)
            kind = _GROUP_KIND.match(pattern, i + 1)
            step = 1 + (kind.end() - kind.start() if kind else 0)
        else:
            if char == b")":
                atom = opened.pop()
            step = 1
        out += pattern[i : i + step]
        i += step
    return bytes(out)


def _class_end(pattern: bytes, start: int) -> int:
    """The index just past the `]` closing the character class that opens at `start`."""
    i = start + 1
    if pattern[i : i + 1] == b"^":
        i += 1
    if pattern[i : i + 1] == b"]":  # a leading `]` is a member, not the end
        i += 1
    while pattern[i : i + 1] != b"]":
        if i >= len(pattern):
            raise re.error("unterminated character set", pattern, start)
        i += 2 if pattern[i : i + 1] == b"\\" else 1
    return i + 1


def compile(pattern: bytes, flags: int = 0) -> re.Pattern[bytes]:
    """`re.compile(atomic(pattern), flags)`."""
    return re.compile(atomic(pattern), flags)
