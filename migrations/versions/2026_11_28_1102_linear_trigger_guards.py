"""Trigger guards over transition tables counted, not EXISTS: an UPDATE of many rows stays linear.

The rollup triggers start with a guard such as `IF EXISTS (SELECT ... FROM new_rows n JOIN old_rows o ON
o.tenant_id = n.tenant_id AND o.id = n.id WHERE <keys changed>)`, to skip their work when a statement changed
nothing they count. The planner plans an EXISTS for its first row: a nested loop over the two transition
tables, which have no index, expecting a match early. When no row qualifies (an UPDATE of columns the trigger
does not read, the common case), it compares every new row with every old one, and once the transition tables
outgrow work_mem each comparison rereads a temporary file. Setting the campaign of 333,000 deals in one UPDATE
(bench/kpis.py's data) read 6.9 TB from temporary files in 45 minutes and was far from done; the same UPDATE of
10,000 deals took 2.5 s.

`(SELECT count(*) FROM (<the same query>) AS x) > 0` asks for every row, so the planner picks the plan that is
cheapest in total: a hash join, linear in the rows. This migration rewrites every such guard of the trigger
functions in place (their definitions otherwise unchanged): an EXISTS whose query reads both `new_rows` and
`old_rows`. Guards that probe a table through an index (the deal's other stays, the tenant) stay EXISTS.
Trigger functions written after this one use `any_of()`; tests/test_migrations.py checks that no trigger
function at head has such an EXISTS.

Revision ID: 20261128_1102
Revises: 20261128_1101
Create Date: 2026-11-28
"""

from alembic import op
from sqlalchemy import text

revision = "20261128_1102"
down_revision = "20261128_1101"
branch_labels = None
depends_on = None

COUNTED = "(SELECT count(*) FROM {} AS x) > 0"


def any_of(query: str) -> str:
    """A guard: does `query` (parenthesized) return a row; counted, so that its plan is linear (see above)."""
    return COUNTED.format(query)


def _group(source: str, start: int) -> int:
    """The index of the parenthesis closing the one at `start`."""
    depth = 0
    for i in range(start, len(source)):
        depth += {"(": 1, ")": -1}.get(source[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses after {source[start:start + 80]!r}")


def quadratic_guards(source: str) -> list[str]:
    """The EXISTS queries of `source` that read both transition tables."""
    found, i = [], 0
    while (j := source.find("EXISTS (", i)) >= 0:
        k = _group(source, j + 7)
        query = source[j + 7:k + 1]
        if "new_rows" in query and "old_rows" in query:
            found.append(query)
        i = j + 7
    return found


def counted(source: str) -> str:
    """`source` with each EXISTS over both transition tables made a count."""
    for query in quadratic_guards(source):
        source = source.replace(f"EXISTS {query}", any_of(query))
    return source


def exists(source: str) -> str:
    """The reverse of counted()."""
    head = COUNTED.split("{}")[0]
    while (j := source.find(head)) >= 0:
        k = _group(source, j + len(head))
        query = source[j + len(head):k + 1]
        source = source.replace(any_of(query), f"EXISTS {query}")
    return source


def _rewrite(change: object) -> None:
    bind = op.get_bind()
    for (definition,) in bind.execute(text("""
            SELECT pg_get_functiondef(p.oid) FROM pg_proc p
            WHERE p.prorettype = 'trigger'::regtype AND p.pronamespace = current_schema()::regnamespace
            ORDER BY p.proname""")).all():
        rewritten = change(definition)  # type: ignore[operator]
        if rewritten != definition:
            op.execute(rewritten)


def upgrade() -> None:
    _rewrite(counted)


def downgrade() -> None:
    _rewrite(exists)
