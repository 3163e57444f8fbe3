"""Helpers for text search with LIKE and pg_trgm."""


def like_pattern(term: str) -> str:
    """A lower-cased `%term%` pattern with LIKE's wildcards escaped (backslash is the escape)."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
