"""Platform: tenants, users, API keys, outbox, idempotency, custom fields, companies, contacts.

Row-level security is enabled and forced on every tenant table; the application connects as a
role (default `crm_app`) that owns nothing and cannot bypass it.

Revision ID: 20261123_0001
Revises:
Create Date: 2026-11-23
"""

from alembic import context, op

revision = "20261123_0001"
down_revision = None
branch_labels = None
depends_on = None

TENANT_TABLES = ["users", "api_keys", "events", "idempotency_keys", "custom_fields", "companies", "contacts"]

RECORD_COLUMNS = """
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    deleted_at timestamptz
"""

ADDRESS_COLUMNS = """
    address_street varchar(500),
    address_city varchar(200),
    address_region varchar(200),
    address_postal_code varchar(32),
    address_country varchar(2),
"""


def app_role() -> str:
    return str(context.config.attributes.get("app_role", "crm_app"))


def upgrade() -> None:
    role = app_role()
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
        END $$""")

    op.execute("""
        CREATE FUNCTION crm_current_tenant() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$""")

    op.execute("""
        CREATE TABLE tenants (
            id uuid PRIMARY KEY,
            name varchar(200) NOT NULL,
            default_currency varchar(3) NOT NULL DEFAULT 'EUR',
            time_zone varchar(64) NOT NULL DEFAULT 'UTC',
            event_seq bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )""")

    op.execute(f"""
        CREATE TABLE users (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            email varchar(320) NOT NULL,
            name varchar(200) NOT NULL,
            role varchar(16) NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'manager', 'member')),
            time_zone varchar(64),
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id)
        )""")
    op.execute("CREATE UNIQUE INDEX users_email_key ON users (tenant_id, lower(email)) WHERE deleted_at IS NULL")
    op.execute("CREATE INDEX users_created_idx ON users (tenant_id, created_at, id) WHERE deleted_at IS NULL")

    # key_hash is unique across tenants: a key is looked up before its tenant is known.
    op.execute("""
        CREATE TABLE api_keys (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            name varchar(200) NOT NULL,
            prefix varchar(16) NOT NULL,
            key_hash bytea NOT NULL UNIQUE,
            scopes varchar[] NOT NULL,
            user_id uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            revoked_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (user_id)
        )""")
    op.execute("CREATE INDEX api_keys_created_idx ON api_keys (tenant_id, created_at, id)")

    op.execute("""
        CREATE TABLE events (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            sequence bigint NOT NULL,
            id uuid NOT NULL,
            type varchar(100) NOT NULL,
            object_type varchar(50) NOT NULL,
            object_id uuid NOT NULL,
            data jsonb NOT NULL,
            previous jsonb,
            actor jsonb NOT NULL,
            request_id varchar(128),
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, sequence)
        )""")
    op.execute("CREATE UNIQUE INDEX events_id_key ON events (tenant_id, id)")
    op.execute("CREATE INDEX events_object_idx ON events (tenant_id, object_id, sequence)")
    op.execute("CREATE INDEX events_created_idx ON events (tenant_id, created_at)")

    op.execute("""
        CREATE TABLE idempotency_keys (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            key varchar(255) NOT NULL,
            request_hash varchar(64) NOT NULL,
            response_status integer NOT NULL,
            response_headers jsonb NOT NULL,
            response_body bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, key)
        )""")
    op.execute("CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at)")

    op.execute(f"""
        CREATE TABLE custom_fields (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            object_type varchar(32) NOT NULL,
            key varchar(64) NOT NULL,
            label varchar(200) NOT NULL,
            type varchar(16) NOT NULL CHECK (type IN ('text', 'number', 'boolean', 'date', 'datetime',
                'select', 'multiselect', 'email', 'url', 'phone')),
            options varchar[],
            required boolean NOT NULL DEFAULT false,
            description varchar(1000),
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id)
        )""")
    op.execute("""CREATE UNIQUE INDEX custom_fields_key ON custom_fields (tenant_id, object_type, key)
                  WHERE deleted_at IS NULL""")
    op.execute("CREATE INDEX custom_fields_created_idx ON custom_fields (tenant_id, created_at, id)")

    op.execute(f"""
        CREATE TABLE companies (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            name varchar(300) NOT NULL,
            domain varchar(253),
            industry varchar(200),
            employee_count integer CHECK (employee_count >= 0),
            annual_revenue_amount numeric(20, 4),
            annual_revenue_currency varchar(3),
            relationship varchar(16) CHECK (relationship IN ('customer', 'prospect', 'partner', 'supplier',
                'distributor', 'competitor', 'other')),
            phone varchar(64),
            website varchar(2048),
            owner_id uuid,
            tags varchar[] NOT NULL DEFAULT '{{}}',
            custom_fields jsonb NOT NULL DEFAULT '{{}}',
            {ADDRESS_COLUMNS}
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id)
        )""")
    live = "WHERE deleted_at IS NULL"
    for name, columns in [
        ("created", "created_at, id"), ("updated", "updated_at, id"), ("name", "lower(name), id"),
        ("domain", "lower(domain)"), ("owner", "owner_id, created_at, id"),
        ("relationship", "relationship, created_at, id"), ("country", "address_country, created_at, id"),
        ("city", "lower(address_city)"),
    ]:
        op.execute(f"CREATE INDEX companies_{name}_idx ON companies (tenant_id, {columns}) {live}")
    op.execute(f"CREATE INDEX companies_tags_idx ON companies USING gin (tenant_id, tags) {live}")
    op.execute(f"""CREATE INDEX companies_custom_fields_idx ON companies
                   USING gin (tenant_id, custom_fields jsonb_path_ops) {live}""")
    op.execute(f"""CREATE INDEX companies_name_trgm_idx ON companies
                   USING gin (tenant_id, lower(name) gin_trgm_ops) {live}""")
    op.execute("CREATE INDEX companies_trash_idx ON companies (deleted_at) WHERE deleted_at IS NOT NULL")

    op.execute(f"""
        CREATE TABLE contacts (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            id uuid NOT NULL,
            first_name varchar(200),
            last_name varchar(200),
            email varchar(320),
            phone varchar(64),
            mobile varchar(64),
            wechat varchar(100),
            job_title varchar(200),
            company_id uuid,
            owner_id uuid,
            source varchar(100),
            lifecycle_stage varchar(16) CHECK (lifecycle_stage IN ('subscriber', 'lead', 'opportunity',
                'customer', 'evangelist', 'other')),
            tags varchar[] NOT NULL DEFAULT '{{}}',
            custom_fields jsonb NOT NULL DEFAULT '{{}}',
            {ADDRESS_COLUMNS}
            search_text text,
            phone_key text GENERATED ALWAYS AS (
                CASE WHEN length(regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')) >= 6
                     THEN right(regexp_replace(phone, '[^0-9]', '', 'g'), 9) END) STORED,
            mobile_key text GENERATED ALWAYS AS (
                CASE WHEN length(regexp_replace(coalesce(mobile, ''), '[^0-9]', '', 'g')) >= 6
                     THEN right(regexp_replace(mobile, '[^0-9]', '', 'g'), 9) END) STORED,
            {RECORD_COLUMNS},
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id)
                ON DELETE SET NULL (company_id),
            FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id)
        )""")
    op.execute("""CREATE UNIQUE INDEX contacts_email_key ON contacts (tenant_id, lower(email))
                   WHERE deleted_at IS NULL AND email IS NOT NULL""")
    for name, columns in [
        ("created", "created_at, id"), ("updated", "updated_at, id"),
        ("last_name", "lower(coalesce(last_name, '')), id"), ("owner", "owner_id, created_at, id"),
        ("company", "company_id, created_at, id"), ("lifecycle", "lifecycle_stage, created_at, id"),
        ("source", "source, created_at, id"), ("country", "address_country, created_at, id"),
        ("city", "lower(address_city)"), ("phone_key", "phone_key"), ("mobile_key", "mobile_key"),
    ]:
        op.execute(f"CREATE INDEX contacts_{name}_idx ON contacts (tenant_id, {columns}) {live}")
    op.execute(f"CREATE INDEX contacts_tags_idx ON contacts USING gin (tenant_id, tags) {live}")
    op.execute(f"""CREATE INDEX contacts_custom_fields_idx ON contacts
                   USING gin (tenant_id, custom_fields jsonb_path_ops) {live}""")
    op.execute(f"""CREATE INDEX contacts_search_idx ON contacts
                   USING gin (tenant_id, search_text gin_trgm_ops) {live}""")
    op.execute("CREATE INDEX contacts_trash_idx ON contacts (deleted_at) WHERE deleted_at IS NOT NULL")

    # search_text: lower-cased name, email, phones and company name, for trigram search.
    op.execute("""
        CREATE FUNCTION contacts_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.search_text := lower(concat_ws(' ', NEW.first_name, NEW.last_name, NEW.email, NEW.phone,
                NEW.mobile, (SELECT c.name FROM companies c
                             WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.company_id)));
            RETURN NEW;
        END $$""")
    op.execute("""
        CREATE TRIGGER contacts_search_text BEFORE INSERT OR UPDATE OF first_name, last_name, email, phone,
            mobile, company_id ON contacts FOR EACH ROW EXECUTE FUNCTION contacts_search_text()""")
    op.execute("""
        CREATE FUNCTION companies_name_to_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE contacts SET company_id = company_id
            WHERE tenant_id = NEW.tenant_id AND company_id = NEW.id;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER companies_name_to_contacts AFTER UPDATE OF name ON companies FOR EACH ROW
            WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION companies_name_to_contacts()""")

    # Row-level security: ENABLE + FORCE + a policy on the current tenant, everywhere.
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON tenants USING (id = crm_current_tenant())")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (tenant_id = crm_current_tenant())")

    # Authentication reads a key (and its user's role) before any tenant is set: a definer
    # function, whose owner alone may read every key and user (the app role can only execute it).
    op.execute("CREATE POLICY authenticate ON api_keys FOR SELECT TO CURRENT_USER USING (true)")
    op.execute("CREATE POLICY authenticate ON users FOR SELECT TO CURRENT_USER USING (true)")
    op.execute("""
        CREATE FUNCTION crm_authenticate(p_hash bytea)
        RETURNS TABLE (api_key_id uuid, tenant_id uuid, user_id uuid, scopes varchar[], role varchar)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT k.id, k.tenant_id, k.user_id, k.scopes, u.role FROM api_keys k
            LEFT JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id AND u.deleted_at IS NULL
            WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
              AND (k.expires_at IS NULL OR k.expires_at > now())
        $$""")
    op.execute("REVOKE ALL ON FUNCTION crm_authenticate(bytea) FROM PUBLIC")

    # Sweeps (trash purge, later deliveries and escalations) visit tenants one by one: the app
    # role learns the tenant ids through this definer function, then works inside each tenant.
    op.execute("CREATE POLICY list_tenants ON tenants FOR SELECT TO CURRENT_USER USING (true)")
    op.execute("""
        CREATE FUNCTION crm_tenant_ids() RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
            SELECT id FROM tenants ORDER BY id
        $$""")
    op.execute("REVOKE ALL ON FUNCTION crm_tenant_ids() FROM PUBLIC")

    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {role}")
    op.execute(f"GRANT EXECUTE ON FUNCTION crm_authenticate(bytea), crm_tenant_ids() TO {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}")


def downgrade() -> None:
    role = app_role()
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {role}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}")
    op.execute("DROP FUNCTION crm_authenticate(bytea)")
    op.execute("DROP FUNCTION crm_tenant_ids()")
    op.execute("DROP TABLE contacts, companies, custom_fields, idempotency_keys, events, api_keys, users, tenants")
    op.execute("DROP FUNCTION companies_name_to_contacts()")
    op.execute("DROP FUNCTION contacts_search_text()")
    op.execute("DROP FUNCTION crm_current_tenant()")
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {role}")
