"""Counts in words: `1 row`, `2 rows`, `0 tables`."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and the noun, singular for exactly one (`plural` for irregular nouns)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
