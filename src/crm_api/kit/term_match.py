"""Records that have every word of a query in the search-term index, without ranking.

For lookups that OR the word match with other index lookups (a case number, an email or phone key) and
list in their own order, so cannot use the ranked page of kit/search.py. Every condition is a leakproof
comparison on text or uuid, so it stays an index condition under row-level security.

- `records_with_every_word`: the ids as a SELECT, an intersection of the words' posting lists read from
  the index alone (the records' rows are read afterwards, only for the ids found).
- `every_word_condition`: a WHERE condition bounded for rare and common matches alike. The planner
  cannot tell them apart (`search_terms` holds every record type's terms; a subject word on 10 % of the
  cases is estimated at 1,000 postings among 15 million), and the two need opposite plans: a rare match
  is fetched by id (at most FEW_IDS lookups, then sorted), a common one is found by walking the list in
  its own order with one index probe per record and word, which meets a page of matches early.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Text, and_, any_, bindparam, cast, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.kit.search import WordTerms, search_terms

FEW_IDS = 1000


def records_with_every_word(object_type: str, tenant_id: uuid.UUID, words: list[WordTerms],
                            limit: int | None = None) -> Any:
    """SELECT of the ids of `object_type` records that have one of the terms of every word (at most
    `limit` rows, a record having several terms of the first word once per term)."""
    postings = [search_terms.alias(f"n{i}") for i in range(len(words))]
    first = postings[0]
    stmt = select(first.c.record_id).where(first.c.tenant_id == tenant_id, first.c.object_type == object_type)
    for p, word in zip(postings, words, strict=True):
        stmt = stmt.where(p.c.term == any_(bindparam(f"{p.name}_terms", list(word.terms), type_=ARRAY(Text))))
        if p is not first:
            stmt = stmt.where(p.c.tenant_id == first.c.tenant_id, p.c.object_type == object_type,
                              p.c.record_id == first.c.record_id)
    return stmt if limit is None else stmt.limit(limit)


async def every_word_condition(session: AsyncSession, object_type: str, model: Any, tenant_id: uuid.UUID,
                               words: list[WordTerms]) -> Any:
    """A condition on `model` rows: the record has one of the terms of every word (see the module)."""
    found = (await session.execute(records_with_every_word(object_type, tenant_id, words, FEW_IDS + 1))).scalars()
    ids = list(dict.fromkeys(found))
    if len(ids) <= FEW_IDS:
        # (The cast keeps the array uuid[] when the statement is rendered with literal values, for EXPLAIN.)
        return model.id == any_(cast(bindparam("every_word_ids", ids, type_=ARRAY(UUID(as_uuid=True))),
                                     ARRAY(UUID(as_uuid=True))))
    probes = []
    for i, word in enumerate(words):
        p = search_terms.alias(f"probe{i}")
        terms = bindparam(f"probe{i}_terms", list(word.terms), type_=ARRAY(Text))
        # A scalar subquery with LIMIT 1: one probe per record (as EXISTS the planner may read every posting).
        probe = (select(literal(1)).where(p.c.tenant_id == model.tenant_id, p.c.object_type == object_type,
                                          p.c.term == any_(terms), p.c.record_id == model.id)
                 .limit(1).correlate_except(p).scalar_subquery())
        probes.append(probe.is_not(None))
    return and_(*probes)
