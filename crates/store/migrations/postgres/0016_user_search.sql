-- Substring search of the Users list (name, first and last name, e-mail, extension) through a trigram index:
-- a LIKE '%…%' cannot use a B-tree, so a search matching few of an account's 100,000 users scanned them all.
-- `search_text` is what the index covers; the list's exact predicates still decide what matches.
ALTER TABLE users ADD COLUMN search_text TEXT GENERATED ALWAYS AS (
    name_key || chr(10) || lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
        || chr(10) || email_key || chr(10) || lower(coalesce(extension, ''))
) STORED;

-- pg_trgm ships with PostgreSQL and is a trusted extension (13+), so the database owner may create it. It is
-- one per database and may already live in another schema: its operator class is named through that schema.
-- Where it cannot be created the search still works, without the index (a sequential filter, as before).
DO $$
DECLARE
    home TEXT;
BEGIN
    SELECT extnamespace::regnamespace::text INTO home FROM pg_extension WHERE extname = 'pg_trgm';
    IF home IS NULL THEN
        CREATE EXTENSION pg_trgm;
        SELECT extnamespace::regnamespace::text INTO home FROM pg_extension WHERE extname = 'pg_trgm';
    END IF;
    EXECUTE format('CREATE INDEX users_search_trgm ON users USING gin (search_text %s.gin_trgm_ops)', home);
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported OR undefined_object THEN
    RAISE NOTICE 'pg_trgm is not available (%); the user search runs without its trigram index', SQLERRM;
END
$$;
