"""/v1/kpis/service's CSAT from the service rollup, and /v1/kpis/marketing's customers, cross-sell and lifetime
value from kept per-company data.

Measured at 1M deals, 200,000 cases (bench/RESULTS.md):

- Service: every number of the report's totals and day/week/month groups came from daily rollups but CSAT, which
  read the period's rated cases (a year is about 33,000 entries of cases_rated_kpi_idx, index-only): 40 ms of the
  240 a year by day. `case_service_day_totals` gets kind 'csat': each live case with a score on the tenant-local
  day of satisfaction_at, the score as its `bucket` (a histogram of the scores, 1-5; `count` the cases, the other
  sums 0). The average is sum(bucket * count) / sum(count): avg() of the integer scores is that very numeric
  division. The rollup is made again with the new kind (table, statement triggers, time-zone rebuild,
  backfill: 20261127_0801's create_own_rollup, as 20261127_0803 did for the attribution rollup).

- Marketing: customers (companies with a won deal up to the period's end), cross-sell (of those, the ones with
  won deals in more than one pipeline) and lifetime value (per currency: the won amount over the companies with
  a priced won deal in it) read every won deal up to the period's end, 120,000 at 1M deals, and hashed them per
  company and pipeline, and per company and currency: 106 + 96 ms, whatever the period.

  `deal_customer_firsts` keeps, per company with won deals (live, with a won_at), when each of those numbers
  began to count it: the company's row (currency '') its first win (`won_at`), its first priced win
  (`priced_at`) and its first win in a second pipeline (`crossed_at`: the second earliest of its pipelines'
  first wins); a row per currency its first priced win in that currency. A company counts for a period ending
  at e when that time is before e, so any period end is answered exactly from 10,000 + 16,000 rows.
  A first win is not a sum: writers recompute their deals' companies. A statement trigger on deals takes the
  companies of the rows that were or are counted and whose counted columns changed (status, won_at, company,
  pipeline, currency and so whether priced, trash state; the join of the transition tables fenced: 1102),
  locks each company's row (made if missing; in key order) and then makes its rows again from its deals
  (deals_customers_idx: a company's won deals). The lock comes first so that two transactions writing one
  company's deals take turns: the second recomputes after the first committed, with a statement snapshot
  (READ COMMITTED) that holds the first's deals. A company deleted outright sets its deals' company to NULL,
  an update: its rows go. Deletes with the tenant write nothing.

  `deal_customer_day_totals` (a Rollup of 20261126_0701, own time-zone rebuild): the won amounts of priced
  deals with a company per tenant-local day of won_at and currency, the lifetime value's sums up to the
  period's last day.

Revision ID: 20261128_1301
Revises: 20261128_1103
Create Date: 2026-11-28
"""

from alembic import op

from crm_api.migrate import migration_module

revision = "20261128_1301"
down_revision = "20261128_1103"
branch_labels = None
depends_on = None

service = migration_module("2026_11_27_1001_case_service_days.py")
guards = migration_module("2026_11_28_1102_linear_trigger_guards.py")
base, attribution, BEFORE = service.base, service.attribution, service.SERVICE
LAST = f"('answered', c.first_response_at, c.response_bucket, {service.RESPONSE}, 0, 0, 0, 0)"
CSAT = ("('csat', CASE WHEN c.satisfaction_score IS NOT NULL THEN c.satisfaction_at END, "
        "c.satisfaction_score::smallint, 0::numeric, 0, 0, 0, 0)")
assert BEFORE.rows.count(LAST) == 1
SERVICE = base.Rollup(BEFORE.table, BEFORE.source, BEFORE.keys, BEFORE.sums,
                      BEFORE.rows.replace(LAST, f"{LAST},\n        {CSAT}"))

# A deal that counts for the customers: live, won, with a company and a won_at.
COUNTED = "{d}.deleted_at IS NULL AND {d}.status = 'won' AND {d}.company_id IS NOT NULL AND {d}.won_at IS NOT NULL"
CUSTOMER_DAYS = base.Rollup("deal_customer_day_totals", "deals", "day, currency",
                            {"count": "bigint", "amount_sum": "numeric"}, f"""
    SELECT r.tenant_id, (r.won_at AT TIME ZONE z.time_zone)::date AS day, r.currency, {{sign}}1 AS count,
           {{sign}}r.amount AS amount_sum
    FROM {{rows}} r JOIN tenants z ON z.id = r.tenant_id
    WHERE {COUNTED.format(d="r")} AND r.amount IS NOT NULL""")
FIRSTS = "deal_customer_firsts"
# The columns whose change can move a counted deal's company's firsts (a deal's amount is NULL exactly when its
# currency is).
COLUMNS = ("status", "won_at", "company_id", "pipeline_id", "currency", "deleted_at")


def refresh_function() -> str:
    """crm_deal_customers_refresh(tenants, companies): the companies' rows made again from their deals."""
    won = f"""FROM deals d JOIN unnest(tenants, companies) AS a (t, c) ON d.tenant_id = a.t AND d.company_id = a.c
              WHERE {COUNTED.format(d="d")}"""
    return f"""
        CREATE FUNCTION crm_deal_customers_refresh(tenants uuid[], companies uuid[]) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {FIRSTS} AS f (tenant_id, company_id, currency, won_at)
            SELECT a.t, a.c, '', 'infinity' FROM unnest(tenants, companies) AS a (t, c) ORDER BY 1, 2
            ON CONFLICT (tenant_id, company_id, currency) DO UPDATE SET won_at = f.won_at;
            DELETE FROM {FIRSTS} f USING unnest(tenants, companies) AS a (t, c)
            WHERE f.tenant_id = a.t AND f.company_id = a.c;
            INSERT INTO {FIRSTS} (tenant_id, company_id, currency, won_at, priced_at, crossed_at)
            SELECT p.tenant_id, p.company_id, '', min(p.won_at), min(p.priced_at),
                   (array_agg(p.won_at ORDER BY p.won_at))[2]
            FROM (SELECT d.tenant_id, d.company_id, min(d.won_at) AS won_at,
                         min(d.won_at) FILTER (WHERE d.amount IS NOT NULL) AS priced_at
                  {won} GROUP BY d.tenant_id, d.company_id, d.pipeline_id) p
            GROUP BY p.tenant_id, p.company_id
            UNION ALL
            SELECT d.tenant_id, d.company_id, d.currency, min(d.won_at), NULL, NULL {won} AND d.amount IS NOT NULL
            GROUP BY d.tenant_id, d.company_id, d.currency;
        END $$"""


def apply_function() -> str:
    """The statement trigger's function: the companies whose firsts the statement can have moved, refreshed."""
    changed = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in COLUMNS)
    pairs = """SELECT array_agg(x.tenant_id ORDER BY x.tenant_id, x.company_id),
                      array_agg(x.company_id ORDER BY x.tenant_id, x.company_id)
               INTO tenants, companies FROM (SELECT DISTINCT tenant_id, company_id FROM {rows} r) x
               WHERE EXISTS (SELECT FROM tenants WHERE id = x.tenant_id)"""
    counted = f"(SELECT d.tenant_id, d.company_id FROM {{}} d WHERE {COUNTED.format(d='d')})"
    return f"""
        CREATE FUNCTION {FIRSTS}_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            tenants uuid[];
            companies uuid[];
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {pairs.format(rows=counted.format("new_rows"))};
            ELSIF TG_OP = 'UPDATE' THEN
                {pairs.format(rows=guards.fence(f'''(SELECT v.tenant_id, v.company_id FROM {guards.JOIN}
                    CROSS JOIN LATERAL (VALUES (o.tenant_id, o.company_id, {COUNTED.format(d="o")}),
                                               (n.tenant_id, n.company_id, {COUNTED.format(d="n")}))
                        AS v (tenant_id, company_id, counted)
                    WHERE ({changed}) AND v.counted)'''))};
            ELSE
                {pairs.format(rows=counted.format("old_rows"))};
            END IF;
            IF companies IS NOT NULL THEN
                PERFORM crm_deal_customers_refresh(tenants, companies);
            END IF;
            RETURN NULL;
        END $$"""


def create_customers() -> None:
    op.execute(f"""
        CREATE TABLE {FIRSTS} (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            company_id uuid NOT NULL,
            currency varchar(3) NOT NULL,
            won_at timestamptz NOT NULL,
            priced_at timestamptz,
            crossed_at timestamptz,
            PRIMARY KEY (tenant_id, company_id, currency))""")
    op.execute(f"ALTER TABLE {FIRSTS} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {FIRSTS} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {FIRSTS} USING (tenant_id = crm_current_tenant())")
    op.execute(refresh_function())
    op.execute(apply_function())
    attribution.statement_triggers(f"{FIRSTS}_apply", "deals", ("INSERT", "UPDATE", "DELETE"))
    # Every tenant's companies.
    attribution.unforced(("deals", FIRSTS), f"""
        SELECT crm_deal_customers_refresh(array_agg(tenant_id), array_agg(company_id))
        FROM (SELECT DISTINCT tenant_id, company_id FROM deals d WHERE {COUNTED.format(d="d")}) x""")
    attribution.create_own_rollup(base, CUSTOMER_DAYS, "customers")


def drop_customers() -> None:
    attribution.drop_own_rollup(base, CUSTOMER_DAYS, "customers")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER {FIRSTS}_apply_{event} ON deals")
    op.execute(f"DROP FUNCTION {FIRSTS}_apply()")
    op.execute("DROP FUNCTION crm_deal_customers_refresh(uuid[], uuid[])")
    op.execute(f"DROP TABLE {FIRSTS}")


def upgrade() -> None:
    attribution.drop_own_rollup(base, BEFORE, "service")
    attribution.create_own_rollup(base, SERVICE, "service")
    create_customers()


def downgrade() -> None:
    drop_customers()
    attribution.drop_own_rollup(base, SERVICE, "service")
    attribution.create_own_rollup(base, BEFORE, "service")
