"""The sales pipeline: pipelines and stages, lost reasons, deals and their stage history, leads.

Deals carry two values derived from their stage, kept by triggers so that every writer (the API,
COPY in bench/, an owner's UPDATE) agrees: `probability` (the stage's) and `stale_at` (when an open
deal without change becomes stale: updated_at + the stage's rotting_days). Changing a stage's
probability or rotting_days re-derives its deals. Every tenant gets a default pipeline.

Revision ID: 20261124_0301
Revises: 20261123_0004
Create Date: 2026-11-24
"""

from alembic import op

revision = "20261124_0301"
down_revision = "20261123_0004"
branch_labels = None
depends_on = None

TABLES = ["pipelines", "pipeline_stages", "lost_reasons", "deals", "deal_stage_history", "leads"]

RECORD_COLUMNS = """
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    deleted_at timestamptz
"""
LIVE = "WHERE deleted_at IS NULL"

# The default pipeline of every tenant: (name, probability, kind, rotting_days).
DEFAULT_STAGES = [("Lead in", 10, "open", 30), ("Qualified", 20, "open", 30), ("Demo", 40, "open", 30),
                  ("Proposal", 60, "open", 30), ("Negotiation", 80, "open", 30), ("Won", 100, "won", None),
                  ("Lost", 0, "lost", None)]


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE pipelines (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            name varchar(200) NOT NULL,
            is_default boolean NOT NULL DEFAULT false,
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id)
        )""")
    op.execute(f"CREATE UNIQUE INDEX pipelines_name_key ON pipelines (tenant_id, lower(name)) {LIVE}")
    op.execute(f"CREATE UNIQUE INDEX pipelines_default_key ON pipelines (tenant_id) {LIVE} AND is_default")
    op.execute(f"CREATE INDEX pipelines_created_idx ON pipelines (tenant_id, created_at, id) {LIVE}")
    op.execute(f"CREATE INDEX pipelines_updated_idx ON pipelines (tenant_id, updated_at, id) {LIVE}")
    op.execute("CREATE INDEX pipelines_trash_idx ON pipelines (deleted_at) WHERE deleted_at IS NOT NULL")

    # Positions are kept dense (0..n-1) by the service under a lock on the pipeline row; no unique
    # index on them, so a reorder can rewrite them in one statement.
    op.execute(f"""
        CREATE TABLE pipeline_stages (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            pipeline_id uuid NOT NULL,
            name varchar(200) NOT NULL,
            position integer NOT NULL CHECK (position >= 0),
            probability smallint NOT NULL CHECK (probability BETWEEN 0 AND 100),
            kind varchar(8) NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
            rotting_days integer CHECK (rotting_days > 0),
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, id) ON DELETE CASCADE
        )""")
    op.execute(f"CREATE INDEX pipeline_stages_position_idx ON pipeline_stages (tenant_id, pipeline_id, position, id) "
               f"{LIVE}")
    op.execute("CREATE INDEX pipeline_stages_trash_idx ON pipeline_stages (deleted_at) WHERE deleted_at IS NOT NULL")

    op.execute(f"""
        CREATE TABLE lost_reasons (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            name varchar(200) NOT NULL,
            description varchar(1000),
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id)
        )""")
    op.execute(f"CREATE UNIQUE INDEX lost_reasons_name_key ON lost_reasons (tenant_id, lower(name)) {LIVE}")
    op.execute(f"CREATE INDEX lost_reasons_created_idx ON lost_reasons (tenant_id, created_at, id) {LIVE}")
    op.execute(f"CREATE INDEX lost_reasons_updated_idx ON lost_reasons (tenant_id, updated_at, id) {LIVE}")
    op.execute(f"CREATE INDEX lost_reasons_name_idx ON lost_reasons (tenant_id, lower(name), id) {LIVE}")
    op.execute("CREATE INDEX lost_reasons_trash_idx ON lost_reasons (deleted_at) WHERE deleted_at IS NOT NULL")

    op.execute(f"""
        CREATE TABLE deals (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            title varchar(300) NOT NULL,
            amount numeric(20, 4) CHECK (amount >= 0),
            currency varchar(3),
            pipeline_id uuid NOT NULL,
            stage_id uuid NOT NULL,
            status varchar(8) NOT NULL CHECK (status IN ('open', 'won', 'lost')),
            owner_id uuid,
            company_id uuid,
            contact_ids uuid[] NOT NULL DEFAULT '{{}}',
            expected_close_date date,
            source varchar(100),
            lost_reason_id uuid,
            lost_note varchar(2000),
            won_at timestamptz,
            lost_at timestamptz,
            stage_entered_at timestamptz NOT NULL DEFAULT now(),
            probability smallint NOT NULL DEFAULT 0,
            stale_at timestamptz,
            -- Sort keys without NULLs (a keyset cannot hold NULL). Stored columns rather than index
            -- expressions: under row-level security only leakproof conditions become index conditions,
            -- and a comparison on a plain column is one, a comparison on COALESCE(...) is not.
            amount_key numeric(20, 4) GENERATED ALWAYS AS (coalesce(amount, 0)) STORED,
            close_key date GENERATED ALWAYS AS (coalesce(expected_close_date, 'infinity'::date)) STORED,
            custom_fields jsonb NOT NULL DEFAULT '{{}}',
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id),
            CHECK ((amount IS NULL) = (currency IS NULL)),
            FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, id),
            FOREIGN KEY (tenant_id, stage_id) REFERENCES pipeline_stages (tenant_id, id),
            FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id),
            FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
            FOREIGN KEY (tenant_id, lost_reason_id) REFERENCES lost_reasons (tenant_id, id)
                ON DELETE SET NULL (lost_reason_id)
        )""")
    for name, columns in [
        ("created", "created_at, id"), ("updated", "updated_at, id"),
        ("title", "lower(title), id"), ("amount", "amount_key, id"), ("close", "close_key, id"),
        ("pipeline", "pipeline_id, created_at, id"), ("stage", "stage_id, created_at, id"),
        ("status", "status, created_at, id"), ("owner", "owner_id, created_at, id"),
        ("company", "company_id, created_at, id"), ("lost_reason", "lost_reason_id, created_at, id"),
        ("source", "source, created_at, id"),
    ]:
        op.execute(f"CREATE INDEX deals_{name}_idx ON deals (tenant_id, {columns}) {LIVE}")
    # The board's sums per stage and currency, read from the index alone.
    op.execute(f"""CREATE INDEX deals_board_idx ON deals (tenant_id, pipeline_id, stage_id)
                   INCLUDE (currency, amount, probability) {LIVE}""")
    op.execute(f"CREATE INDEX deals_stale_idx ON deals (tenant_id, stale_at) {LIVE} AND stale_at IS NOT NULL")
    op.execute(f"CREATE INDEX deals_contacts_idx ON deals USING gin (tenant_id, contact_ids) {LIVE}")
    op.execute(f"CREATE INDEX deals_custom_fields_idx ON deals USING gin (tenant_id, custom_fields jsonb_path_ops) "
               f"{LIVE}")
    op.execute(f"CREATE INDEX deals_title_trgm_idx ON deals USING gin (tenant_id, lower(title) gin_trgm_ops) {LIVE}")
    op.execute("CREATE INDEX deals_trash_idx ON deals (deleted_at) WHERE deleted_at IS NOT NULL")

    # probability and stale_at follow the deal's stage (and its updated_at and status).
    op.execute("""
        CREATE FUNCTION deals_derive() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            stage_probability smallint;
            stage_rotting integer;
        BEGIN
            SELECT s.probability, s.rotting_days INTO stage_probability, stage_rotting
            FROM pipeline_stages s WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.stage_id;
            NEW.probability := coalesce(stage_probability, 0);
            NEW.stale_at := CASE WHEN NEW.status = 'open' AND stage_rotting IS NOT NULL
                                 THEN NEW.updated_at + make_interval(days => stage_rotting) END;
            RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER deals_derive BEFORE INSERT OR UPDATE OF stage_id, status, updated_at ON deals
            FOR EACH ROW EXECUTE FUNCTION deals_derive()""")
    op.execute("""
        CREATE FUNCTION pipeline_stages_to_deals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE deals SET stage_id = stage_id WHERE tenant_id = NEW.tenant_id AND stage_id = NEW.id;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER pipeline_stages_to_deals AFTER UPDATE OF probability, rotting_days ON pipeline_stages
            FOR EACH ROW WHEN (OLD.probability IS DISTINCT FROM NEW.probability
                               OR OLD.rotting_days IS DISTINCT FROM NEW.rotting_days)
            EXECUTE FUNCTION pipeline_stages_to_deals()""")
    # A contact purged from the trash leaves the deals it was on (an array has no foreign key).
    op.execute("""
        CREATE FUNCTION contacts_leave_deals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE deals SET contact_ids = array_remove(contact_ids, OLD.id)
            WHERE tenant_id = OLD.tenant_id AND contact_ids @> ARRAY[OLD.id];
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER contacts_leave_deals AFTER DELETE ON contacts
            FOR EACH ROW EXECUTE FUNCTION contacts_leave_deals()""")

    op.execute("""
        CREATE TABLE deal_stage_history (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            deal_id uuid NOT NULL,
            pipeline_id uuid NOT NULL,
            stage_id uuid NOT NULL,
            status varchar(8) NOT NULL CHECK (status IN ('open', 'won', 'lost')),
            entered_at timestamptz NOT NULL,
            left_at timestamptz,
            entered_by jsonb NOT NULL,
            left_by jsonb,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE CASCADE,
            FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, id),
            FOREIGN KEY (tenant_id, stage_id) REFERENCES pipeline_stages (tenant_id, id)
        )""")
    op.execute("CREATE INDEX deal_stage_history_deal_idx ON deal_stage_history (tenant_id, deal_id, entered_at, id)")
    op.execute("""CREATE UNIQUE INDEX deal_stage_history_current_key ON deal_stage_history (tenant_id, deal_id)
                  WHERE left_at IS NULL""")

    op.execute(f"""
        CREATE TABLE leads (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            first_name varchar(200),
            last_name varchar(200),
            email varchar(320),
            phone varchar(64),
            company_name varchar(300),
            company_domain varchar(253),
            job_title varchar(200),
            source varchar(16) CHECK (source IN ('web_form', 'trade_show', 'referral', 'conference',
                'advertising', 'email_campaign', 'social', 'cold_outreach', 'other')),
            source_detail varchar(500),
            campaign varchar(200),
            status varchar(16) NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'mql', 'sql', 'converted',
                'disqualified')),
            disqualify_reason varchar(1000),
            owner_id uuid,
            score smallint NOT NULL DEFAULT 0 CHECK (score BETWEEN 0 AND 100),
            custom_fields jsonb NOT NULL DEFAULT '{{}}',
            converted_at timestamptz,
            converted_contact_id uuid,
            converted_company_id uuid,
            converted_deal_id uuid,
            search_text text GENERATED ALWAYS AS (lower(
                coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' ||
                coalesce(company_name, ''))) STORED,
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id),
            FOREIGN KEY (tenant_id, converted_contact_id) REFERENCES contacts (tenant_id, id)
                ON DELETE SET NULL (converted_contact_id),
            FOREIGN KEY (tenant_id, converted_company_id) REFERENCES companies (tenant_id, id)
                ON DELETE SET NULL (converted_company_id),
            FOREIGN KEY (tenant_id, converted_deal_id) REFERENCES deals (tenant_id, id)
                ON DELETE SET NULL (converted_deal_id)
        )""")
    op.execute("""CREATE UNIQUE INDEX leads_email_key ON leads (tenant_id, lower(email))
                  WHERE deleted_at IS NULL AND email IS NOT NULL""")
    for name, columns in [
        ("created", "created_at, id"), ("updated", "updated_at, id"), ("score", "score, id"),
        ("status", "status, created_at, id"), ("source", "source, created_at, id"),
        ("owner", "owner_id, created_at, id"), ("campaign", "lower(campaign), created_at, id"),
    ]:
        op.execute(f"CREATE INDEX leads_{name}_idx ON leads (tenant_id, {columns}) {LIVE}")
    op.execute(f"CREATE INDEX leads_custom_fields_idx ON leads USING gin (tenant_id, custom_fields jsonb_path_ops) "
               f"{LIVE}")
    op.execute(f"CREATE INDEX leads_search_idx ON leads USING gin (tenant_id, search_text gin_trgm_ops) {LIVE}")
    op.execute("CREATE INDEX leads_trash_idx ON leads (deleted_at) WHERE deleted_at IS NOT NULL")

    # Tenants created before this migration get the default pipeline too.
    stages = ", ".join(f"('{n}', {i}, {p}, '{k}', {r if r is not None else 'NULL'})"
                       for i, (n, p, k, r) in enumerate(DEFAULT_STAGES))
    op.execute(f"""
        WITH created AS (
            INSERT INTO pipelines (tenant_id, id, name, is_default)
            SELECT t.id, gen_random_uuid(), 'Sales pipeline', true FROM tenants t
            RETURNING tenant_id, id)
        INSERT INTO pipeline_stages (tenant_id, id, pipeline_id, name, position, probability, kind, rotting_days)
        SELECT c.tenant_id, gen_random_uuid(), c.id, s.name, s.position, s.probability, s.kind, s.rotting_days
        FROM created c CROSS JOIN (VALUES {stages}) AS s (name, position, probability, kind, rotting_days)""")


    # Row-level security last: the backfill above runs before the policies exist.
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = crm_current_tenant())")

def downgrade() -> None:
    op.execute("DROP TABLE leads, deal_stage_history, deals, lost_reasons, pipeline_stages, pipelines")
    op.execute("DROP TRIGGER contacts_leave_deals ON contacts")
    op.execute("DROP FUNCTION contacts_leave_deals()")
    op.execute("DROP FUNCTION pipeline_stages_to_deals()")
    op.execute("DROP FUNCTION deals_derive()")
