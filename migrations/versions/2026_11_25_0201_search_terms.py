"""Search terms: a word index that `q` searches with index lookups only, under row-level security.

Under RLS PostgreSQL evaluates a query's own conditions after the tenant policy unless they are
leakproof, and LIKE and pg_trgm's operators are not: the trigram index on contacts.search_text was
never used as the app role, and `q` scanned every contact of the tenant. This index answers the
same questions with conditions that are leakproof (text =, <, >, = ANY), so they run in the index:

- `search_terms (tenant_id, object_type, term, record_id)`: one row per distinct word of a record
  (lower-cased, split on anything that is not a letter or digit) and, for phone numbers, the
  digits and their suffixes of seven or more digits (the number without its country or area code).
- the record keeps its own terms in `search_terms text[]` (set by a BEFORE trigger), so an AFTER
  trigger can replace exactly what changed, even when the words come from another row (a
  contact's company name);
- `crm_search_expand(kind, query)` turns a query into, per query word, the indexed terms it
  matches: the word itself (tier 0), terms it begins (tier 1, walking the index), and terms one
  edit away (tier 2: a letter deleted, inserted, replaced, or two letters swapped; only for a word
  that matches nothing as typed or as a beginning), each checked with an index probe. Only terms
  that exist are returned.

Revision ID: 20261125_0201
Revises: 20261125_0702
Create Date: 2026-11-25
"""

from alembic import op

revision = "20261125_0201"
down_revision = "20261125_0702"
branch_labels = None
depends_on = None

# Letters a typo may insert or replace: the Latin alphabet and the accented letters most names use.
TYPO_ALPHABET = "abcdefghijklmnopqrstuvwxyzäöüßéèáàçñ"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE search_terms (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            object_type varchar(32) NOT NULL,
            term text COLLATE "C" NOT NULL,
            record_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, object_type, term, record_id)
        )""")
    op.execute("ALTER TABLE search_terms ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE search_terms FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON search_terms USING (tenant_id = crm_current_tenant())")

    # Words: lower-cased runs of letters or of digits ("Sun0" is "sun" and "0"), in their order.
    op.execute(r"""
        CREATE FUNCTION crm_search_tokens(input text) RETURNS TABLE (n bigint, w text)
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT n, w FROM regexp_split_to_table(
                regexp_replace(regexp_replace(lower(coalesce(input, '')),
                    '([[:alpha:]])([[:digit:]])', '\1 \2', 'g'), '([[:digit:]])([[:alpha:]])', '\1 \2', 'g'),
                '[^[:alnum:]]+') WITH ORDINALITY AS t (w, n)
            WHERE w <> '' AND length(w) <= 64
        $$""")
    op.execute(r"""
        CREATE FUNCTION crm_search_words(input text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT coalesce(array_agg(DISTINCT w), '{}') FROM crm_search_tokens(input)
        $$""")
    op.execute(r"""
        CREATE FUNCTION crm_search_phone_terms(phone text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN length(d) < 4 THEN '{}'::text[]
                        ELSE array(SELECT right(d, k) FROM generate_series(least(7, length(d)), length(d)) k) END
            FROM (SELECT left(regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g'), 32) AS d) digits
        $$""")
    op.execute(f"""
        CREATE FUNCTION crm_search_edits(word text) RETURNS SETOF text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            WITH letters AS (SELECT regexp_split_to_table('{TYPO_ALPHABET}', '') AS c)
            SELECT left(word, i - 1) || substr(word, i + 1) FROM generate_series(1, length(word)) i
            UNION
            SELECT left(word, i - 1) || substr(word, i + 1, 1) || substr(word, i, 1) || substr(word, i + 2)
            FROM generate_series(1, length(word) - 1) i
            UNION
            SELECT left(word, i - 1) || c || substr(word, i + 1) FROM generate_series(1, length(word)) i, letters
            UNION
            SELECT left(word, i) || c || substr(word, i + 1) FROM generate_series(0, length(word)) i, letters
        $$""")
    # Query words in their order: a query of digits and phone punctuation is one number.
    op.execute(r"""
        CREATE FUNCTION crm_search_query_words(query text) RETURNS TABLE (word_no int, word text)
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            WITH digits AS (SELECT regexp_replace(query, '[^0-9]', '', 'g') AS d)
            SELECT 1, left(d, 32) FROM digits WHERE query ~ '^[-0-9 +().\/]+$' AND length(d) >= 4
            UNION ALL
            SELECT (row_number() OVER (ORDER BY n))::int, w FROM crm_search_tokens(query), digits
            WHERE NOT (query ~ '^[-0-9 +().\/]+$' AND length(d) >= 4)
        $$""")
    op.execute(r"""
        CREATE FUNCTION crm_search_expand(kind text, query text, max_words int DEFAULT 6,
                                          max_prefixes int DEFAULT 10, max_typos int DEFAULT 10)
        RETURNS TABLE (word_no int, word text, term text, tier int)
        LANGUAGE plpgsql STABLE AS $$
        DECLARE
            tenant uuid := crm_current_tenant();
            q record;
            form text;
            found_term text;
            prefixes int;
            matched boolean;
        BEGIN
            FOR q IN SELECT w.word_no, w.word FROM crm_search_query_words(query) w ORDER BY 1 LIMIT max_words LOOP
                word_no := q.word_no;
                word := q.word;
                -- Every word has a row, with no term when nothing matches it (then nothing matches the query).
                term := NULL;
                tier := NULL;
                RETURN NEXT;
                matched := false;
                -- A number typed with a trunk or international prefix (030..., 0049...) is also looked
                -- up without its leading zeros: the index holds numbers without them as suffixes.
                FOREACH form IN ARRAY array_remove(ARRAY[q.word, CASE WHEN q.word ~ '^0+[0-9]{4}'
                                                    THEN ltrim(q.word, '0') END], NULL) LOOP
                    IF EXISTS (SELECT 1 FROM search_terms s
                               WHERE s.tenant_id = tenant AND s.object_type = kind AND s.term = form) THEN
                        term := form;
                        tier := 0;
                        matched := true;
                        RETURN NEXT;
                    END IF;
                    -- Terms the word begins: a walk of the index, one probe per distinct term.
                    found_term := form;
                    prefixes := 0;
                    LOOP
                        SELECT s.term INTO found_term FROM search_terms s
                        WHERE s.tenant_id = tenant AND s.object_type = kind
                          AND s.term > found_term AND s.term < form || chr(1114111)
                        ORDER BY s.term LIMIT 1;
                        EXIT WHEN NOT FOUND OR prefixes >= max_prefixes;
                        term := found_term;
                        tier := 1;
                        matched := true;
                        prefixes := prefixes + 1;
                        RETURN NEXT;
                    END LOOP;
                END LOOP;
                -- Terms one typo away, for a word found neither as typed nor as a beginning, and long
                -- enough that one letter is a small part of it.
                IF NOT matched AND length(q.word) >= 4 AND q.word !~ '^[0-9]+$' THEN
                    FOR found_term IN
                        SELECT e FROM crm_search_edits(q.word) e
                        WHERE NOT starts_with(e, q.word)
                          AND EXISTS (SELECT 1 FROM search_terms s
                                      WHERE s.tenant_id = tenant AND s.object_type = kind AND s.term = e)
                        ORDER BY e LIMIT max_typos
                    LOOP
                        term := found_term;
                        tier := 2;
                        RETURN NEXT;
                    END LOOP;
                END IF;
            END LOOP;
        END $$""")
    # Keeps search_terms equal to each record's own `search_terms` array; TG_ARGV[0] is the object type.
    op.execute("""
        CREATE FUNCTION crm_search_reindex() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM search_terms s
                WHERE s.tenant_id = OLD.tenant_id AND s.object_type = TG_ARGV[0] AND s.record_id = OLD.id
                  AND s.term = ANY (OLD.search_terms);
                RETURN NULL;
            END IF;
            IF TG_OP = 'UPDATE' THEN
                DELETE FROM search_terms s
                WHERE s.tenant_id = OLD.tenant_id AND s.object_type = TG_ARGV[0] AND s.record_id = OLD.id
                  AND s.term = ANY (array(SELECT unnest(OLD.search_terms) EXCEPT SELECT unnest(NEW.search_terms)));
            END IF;
            INSERT INTO search_terms (tenant_id, object_type, term, record_id)
            SELECT NEW.tenant_id, TG_ARGV[0], t, NEW.id FROM unnest(NEW.search_terms) t
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$""")

    # Contacts: names, email, company name, phone numbers.
    op.execute("ALTER TABLE contacts ADD COLUMN search_terms text[] NOT NULL DEFAULT '{}'")
    op.execute("""
        CREATE FUNCTION crm_contact_search_terms(first_name text, last_name text, email text, phone text,
                                                 mobile text, company_name text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT array(SELECT DISTINCT t FROM unnest(
                crm_search_words(concat_ws(' ', first_name, last_name, email, company_name))
                || crm_search_phone_terms(phone) || crm_search_phone_terms(mobile)) t ORDER BY t)
        $$""")
    op.execute("""
        CREATE OR REPLACE FUNCTION contacts_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            company_name text := (SELECT c.name FROM companies c
                                  WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.company_id);
        BEGIN
            NEW.search_text := lower(concat_ws(' ', NEW.first_name, NEW.last_name, NEW.email, NEW.phone,
                                               NEW.mobile, company_name));
            NEW.search_terms := crm_contact_search_terms(NEW.first_name, NEW.last_name, NEW.email, NEW.phone,
                                                         NEW.mobile, company_name);
            RETURN NEW;
        END $$""")
    # The backfill reads and writes every tenant's rows: FORCE would hold an owner that is not a
    # superuser to the (unset) tenant policy, so it is lifted for this transaction only.
    for table in ("contacts", "search_terms"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("""
        UPDATE contacts ct SET search_terms = crm_contact_search_terms(ct.first_name, ct.last_name, ct.email,
            ct.phone, ct.mobile, (SELECT c.name FROM companies c WHERE c.tenant_id = ct.tenant_id AND c.id = ct.company_id))""")
    op.execute("""
        INSERT INTO search_terms (tenant_id, object_type, term, record_id)
        SELECT tenant_id, 'contact', unnest(search_terms), id FROM contacts""")
    for table in ("contacts", "search_terms"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    # Most updates touch no searched column: the WHEN clause keeps them from calling the function.
    op.execute("""
        CREATE TRIGGER contacts_search_terms_write AFTER INSERT OR DELETE ON contacts FOR EACH ROW
            EXECUTE FUNCTION crm_search_reindex('contact')""")
    op.execute("""
        CREATE TRIGGER contacts_search_terms_change AFTER UPDATE ON contacts FOR EACH ROW
            WHEN (OLD.search_terms IS DISTINCT FROM NEW.search_terms) EXECUTE FUNCTION crm_search_reindex('contact')""")


def downgrade() -> None:
    op.execute("DROP TRIGGER contacts_search_terms_change ON contacts")
    op.execute("DROP TRIGGER contacts_search_terms_write ON contacts")
    op.execute("""
        CREATE OR REPLACE FUNCTION contacts_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.search_text := lower(concat_ws(' ', NEW.first_name, NEW.last_name, NEW.email, NEW.phone,
                NEW.mobile, (SELECT c.name FROM companies c
                             WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.company_id)));
            RETURN NEW;
        END $$""")
    op.execute("ALTER TABLE contacts DROP COLUMN search_terms")
    op.execute("DROP FUNCTION crm_contact_search_terms(text, text, text, text, text, text)")
    op.execute("DROP FUNCTION crm_search_reindex()")
    op.execute("DROP FUNCTION crm_search_expand(text, text, int, int, int)")
    op.execute("DROP FUNCTION crm_search_query_words(text)")
    op.execute("DROP FUNCTION crm_search_edits(text)")
    op.execute("DROP FUNCTION crm_search_phone_terms(text)")
    op.execute("DROP FUNCTION crm_search_words(text)")
    op.execute("DROP FUNCTION crm_search_tokens(text)")
    op.execute("DROP TABLE search_terms")
