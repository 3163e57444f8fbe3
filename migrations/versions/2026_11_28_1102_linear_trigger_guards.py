"""Trigger statements over transition tables planned linear in the rows a statement changed.

The rollup triggers compare a statement's new rows with its old ones (`new_rows n JOIN old_rows o ON
o.tenant_id = n.tenant_id AND o.id = n.id`, keys compared) to find what changed. Two plans made that quadratic
once an UPDATE touched many rows, both nested loops with a transition table (no index) on the inner side, each
comparison rereading it from a temporary file once it outgrew work_mem:

- Guards: `IF EXISTS (<changed rows>)`, to skip a trigger's work when nothing it counts changed. An EXISTS is
  planned for its first row, a nested loop expecting an early match; when no row qualifies (an UPDATE of
  columns the trigger does not read, the common case) every new row is compared with every old one. They are
  now `(SELECT count(*) FROM (<changed rows>) AS x) > 0`, planned for all rows: a hash or merge join.
- Changed rows joined with the stays or stages: the planner estimates a transition table's `deleted_at IS
  NULL` at 0.5 % of its rows, and with the tenant in every join condition it may join new rows to the stages
  first and the old rows last, in a nested loop. The changed-rows subquery is now its own MATERIALIZED CTE
  (`(WITH c AS MATERIALIZED (<changed rows>) SELECT * FROM c)`), planned alone (a hash join of the two
  transition tables) and read once.

Measured on bench/kpis.py's data (1M deals, 3M stays): setting the campaign of 3,314 deals in one UPDATE took
46.6 s, of 10,016 deals 484 s, of 333,000 deals it read 6.9 TB of temporary files in 45 minutes and was
cancelled; with this migration 3,314 deals take 2.5 s and 317,065 deals 79 s.

The migration rewrites the existing trigger functions in place (their definitions otherwise unchanged); new
trigger code writes `any_of()` and `fence()`, and tests/test_migrations.py fails on any trigger function at head
with an EXISTS over both transition tables or an unfenced subquery joining them.

Revision ID: 20261128_1102
Revises: 20261128_1101
Create Date: 2026-11-28
"""

from collections.abc import Callable

from alembic import op
from sqlalchemy import text

revision = "20261128_1102"
down_revision = "20261128_1101"
branch_labels = None
depends_on = None

COUNTED = "(SELECT count(*) FROM {} AS x) > 0"
FENCED = "(WITH c AS MATERIALIZED {} SELECT * FROM c)"
JOIN = "new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id"


def any_of(query: str) -> str:
    """A guard: does `query` (parenthesized) return a row; counted, so that its plan is linear (see above)."""
    return COUNTED.format(query)


def fence(query: str) -> str:
    """`query` (parenthesized) planned on its own and read once, as a subquery (see above)."""
    return FENCED.format(query)


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


def open_joins(source: str) -> list[str]:
    """The innermost parenthesized SELECTs of `source` that join the transition tables and are not fenced."""
    found, i = [], 0
    while (j := source.find("(SELECT ", i)) >= 0:
        query = source[j:_group(source, j) + 1]
        nested = query.find("(SELECT ", 1)
        if JOIN in query and (nested < 0 or JOIN not in query[nested:]) \
                and not source[:j].endswith(FENCED.split("{}")[0]):
            found.append(query)
        i = j + 1
    return found


def counted(source: str) -> str:
    """`source` with each EXISTS over both transition tables made a count."""
    for query in quadratic_guards(source):
        source = source.replace(f"EXISTS {query}", any_of(query))
    return source


def fenced(source: str) -> str:
    """`source` with each subquery joining the transition tables fenced."""
    for query in dict.fromkeys(open_joins(source)):
        source = source.replace(query, fence(query))
    return source


def _undo(source: str, form: str, back: Callable[[str], str]) -> str:
    """`source` with each `form` (around one parenthesized query) made `back(query)` again."""
    head = form.split("{}")[0]
    while (j := source.find(head)) >= 0:
        k = _group(source, j + len(head))
        query = source[j + len(head):k + 1]
        source = source.replace(form.format(query), back(query))
    return source


def unfenced(source: str) -> str:
    return _undo(source, FENCED, lambda query: query)


def exists(source: str) -> str:
    return _undo(source, COUNTED, lambda query: f"EXISTS {query}")


def _rewrite(change: Callable[[str], str]) -> None:
    for (definition,) in op.get_bind().execute(text("""
            SELECT pg_get_functiondef(p.oid) FROM pg_proc p
            WHERE p.prorettype = 'trigger'::regtype AND p.pronamespace = current_schema()::regnamespace
            ORDER BY p.proname""")).all():
        rewritten = change(definition)
        if rewritten != definition:
            op.execute(rewritten)


def upgrade() -> None:
    _rewrite(lambda source: fenced(counted(source)))


def downgrade() -> None:
    _rewrite(lambda source: exists(unfenced(source)))
