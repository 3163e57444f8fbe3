"""Text search: LIKE patterns, and the search-term index that `q` uses on large lists.

The term index (`search_terms`, migration 20261125_0201) holds each record's words; a query word
matches a term exactly (tier 0), as its beginning (tier 1) or one typo away (tier 2). Every
condition is a plain comparison on text or uuid, which PostgreSQL treats as leakproof, so under
row-level security they still run inside the index (LIKE and pg_trgm's operators do not).

A ranked page is read without ever touching all matches of a broad word: for each term of the
query's driving word (its longest), an index scan in record order stops after one page of records
that pass the list's filters, and the pages of all terms are merged by (tier, newest first). The
other query words only filter (each must match one of its terms). Work per request is therefore
bounded by the number of terms (at most 21 per word) times the page size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    column,
    func,
    literal,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kit.errors import ValidationFailed
from crm_api.kit.pagination import decode_cursor, encode_cursor
from crm_api.kit.rows import REUSABLE

search_terms = table("search_terms", column("tenant_id", UUID), column("object_type", Text),
                     column("term", Text), column("record_id", UUID))

# After the last record id of all: a cursor-free scan starts below it.
_ID_CEILING = uuid.UUID(int=(1 << 128) - 1)
_RELEVANCE = "relevance"


def q_description(fields: str) -> str:
    """The OpenAPI description of a `q` parameter served by the term index."""
    return (f"Words to find in {fields}. Each word matches a word that begins with it (case-insensitive); a "
            "word found nowhere also matches words one typo away. Every word must match. Without `sort`: whole "
            "words first, then beginnings, then typos, newest first within each.")


def like_pattern(term: str) -> str:
    """A lower-cased `%term%` pattern with LIKE's wildcards escaped (backslash is the escape)."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _decode_position(cursor: str) -> tuple[int, uuid.UUID]:
    tier, record_id = decode_cursor(cursor, _RELEVANCE, 2)
    try:
        if isinstance(tier, int) and tier >= 0 and isinstance(record_id, str):
            return tier, uuid.UUID(record_id)
    except ValueError:
        pass
    raise ValidationFailed.field("cursor", "is not a cursor this API gave out")


@dataclass(frozen=True)
class WordTerms:
    """One query word and the indexed terms it matches, each with its tier (0 best)."""

    word: str
    terms: dict[str, int]


@dataclass(frozen=True)
class TermIndex:
    """The search-term index of one object type ("contact", ...)."""

    object_type: str

    async def expand(self, session: AsyncSession, query: str) -> list[WordTerms]:
        """The query's words, each with the terms of this tenant's index it matches."""
        rows = (await session.execute(
            text("SELECT word_no, word, term, tier FROM crm_search_expand(:kind, :query)"),
            {"kind": self.object_type, "query": query})).all()
        words: dict[int, WordTerms] = {}
        for word_no, word, term, tier in rows:
            entry = words.setdefault(word_no, WordTerms(word, {}))
            if term is not None:
                entry.terms[term] = min(tier, entry.terms.get(term, tier))
        return [words[n] for n in sorted(words)]

    def _postings(self, name: str) -> Any:
        return search_terms.alias(name)

    def _has_word(self, tenant_id: Any, record_id: Any, terms: Any, name: str, *, probe: bool = False) -> Any:
        """Whether the record has one of `terms` (a list, or an array expression).

        As EXISTS the planner may join it (a semi-join reading every posting of the terms once, right
        for filtering by another word). `probe` asks for one index probe per candidate record
        instead: a scalar subquery with LIMIT 1, tested for NULL, for when only a page of
        candidates is tested and the terms may have tens of thousands of postings.
        """
        p = self._postings(name)
        if isinstance(terms, list):
            terms = bindparam(f"{name}_terms", terms, type_=ARRAY(Text))
        found = select(literal(1)).where(p.c.tenant_id == tenant_id, p.c.object_type == self.object_type,
                                         p.c.term == any_(terms), p.c.record_id == record_id)
        if probe:
            return found.limit(1).correlate_except(p).scalar_subquery().is_not(None)
        return found.correlate_except(p).exists()

    def matches(self, model: Any, words: list[WordTerms]) -> list[Any]:
        """Conditions that a record of `model` matches every word: for lists in another order."""
        return [self._has_word(model.tenant_id, model.id, list(word.terms), f"w{i}") for i, word in enumerate(words)]

    async def ranked_page(self, session: Any, tenant_id: uuid.UUID, base: Select[Any] | None, model: Any,
                          words: list[WordTerms], limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
        """One page of `base` (a filtered SELECT of `model`; None: all live records of the tenant)
        matching every word, best matches first.

        Order: the driving word's tier, then newest first (record ids are time-ordered). The query's
        terms are bound values, so without filters the statement is built once per number of words
        (`_plain_ranked`) and only its values change; with filters it is built around `base`.
        """
        driver = max(words, key=lambda w: len(w.word))
        others = [w for w in words if w is not driver]
        if not all(w.terms for w in words):
            return [], None
        after_tier, after = _decode_position(cursor) if cursor else (0, None)
        # Per driving term: its tier and the record id its scan starts below (the cursor's, in its tier).
        rows = [(term, tier, after if (tier == after_tier and after) else _ID_CEILING)
                for term, tier in sorted(driver.terms.items(), key=lambda kv: (kv[1], kv[0])) if tier >= after_tier]
        if not rows:
            return [], None
        terms, tiers, below = (list(column_) for column_ in zip(*rows, strict=True))
        values: dict[str, Any] = {
            "tenant_id": tenant_id, "d_terms": terms, "d_tiers": tiers, "d_below": below, "page_limit": limit + 1,
            # A record found through a better term of the driving word is that term's, not this one's.
            **{f"better{t}": [term for term, tier in driver.terms.items() if tier < t] for t in (1, 2)},
            **{f"w{i}_terms": list(w.terms) for i, w in enumerate(others)},
        }
        stmt = (self._plain_ranked(model, len(others)) if base is None
                else self._ranked(base, model, len(others)))
        found = (await session.execute(stmt, values)).all()
        page = found[:limit]
        next_cursor = None
        if len(found) > limit and page:
            last, last_tier = page[-1]
            next_cursor = encode_cursor(_RELEVANCE, [last_tier, str(last.id)])
        return [record for record, _ in page], next_cursor

    @cache  # noqa: B019 (a handful of entries per TermIndex, which lives as long as the process)
    def _plain_ranked(self, model: Any, other_words: int) -> Select[Any]:
        """The ranked page over all live records of the tenant, for `other_words` words beside the driver."""
        base = select(model).where(model.tenant_id == bindparam("tenant_id"), model.deleted_at.is_(None))
        return self._ranked(base, model, other_words).execution_options(**REUSABLE)

    def _ranked(self, base: Select[Any], model: Any, other_words: int) -> Select[Any]:
        d = func.unnest(bindparam("d_terms", type_=ARRAY(Text)), bindparam("d_tiers", type_=ARRAY(Integer)),
                        bindparam("d_below", type_=ARRAY(UUID))
                        ).table_valued("term", "tier", "below").render_derived(name="d")
        p = self._postings("p")
        better = case((d.c.tier == 1, bindparam("better1", type_=ARRAY(Text))),
                      else_=bindparam("better2", type_=ARRAY(Text)))
        found_better = and_(d.c.tier > 0, self._has_word(p.c.tenant_id, p.c.record_id, better, "pb", probe=True))
        table_ = model.__table__
        others = [self._has_word(p.c.tenant_id, p.c.record_id, bindparam(f"w{i}_terms", type_=ARRAY(Text)), f"w{i}")
                  for i in range(other_words)]
        page_limit = bindparam("page_limit", type_=Integer)
        scan = (base.with_only_columns(p.c.record_id)
                .select_from(table_.join(p, and_(p.c.tenant_id == table_.c.tenant_id, p.c.record_id == table_.c.id)))
                .where(p.c.object_type == self.object_type, p.c.term == d.c.term, p.c.record_id < d.c.below,
                       ~found_better, *others)
                .order_by(p.c.record_id.desc()).limit(page_limit).lateral("m"))
        tier = func.min(d.c.tier).label("tier")
        hits = (select(scan.c.record_id, tier).select_from(d.join(scan, true()))
                .group_by(scan.c.record_id).order_by(tier, scan.c.record_id.desc()).limit(page_limit).subquery("hits"))
        return (select(model, hits.c.tier)
                .join(hits, and_(model.tenant_id == bindparam("tenant_id"), model.id == hits.c.record_id))
                .order_by(hits.c.tier, hits.c.record_id.desc()))
