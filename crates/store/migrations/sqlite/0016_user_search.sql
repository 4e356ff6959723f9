-- Substring search of the Users list (name, first and last name, e-mail, extension) through a trigram index:
-- a LIKE '%…%' cannot use a B-tree, so a search matching few of an account's 100,000 users scanned them all.
-- The FTS5 table holds no copy of the text (contentless); its integer row ids map to users here, because the
-- users table's own rowids may change on VACUUM (its key is TEXT).
CREATE TABLE users_text_doc (
    doc INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE users_text USING fts5(text, content='', contentless_delete=1, tokenize='trigram');

INSERT INTO users_text_doc (user_id) SELECT id FROM users;
INSERT INTO users_text (rowid, text)
    SELECT d.doc, u.name_key || char(10) || lower(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, ''))
        || char(10) || u.email_key || char(10) || coalesce(u.extension, '')
    FROM users u JOIN users_text_doc d ON d.user_id = u.id;

CREATE TRIGGER users_text_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_text_doc (user_id) VALUES (new.id);
    INSERT INTO users_text (rowid, text) VALUES (
        (SELECT doc FROM users_text_doc WHERE user_id = new.id),
        new.name_key || char(10) || lower(coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''))
            || char(10) || new.email_key || char(10) || coalesce(new.extension, ''));
END;

CREATE TRIGGER users_text_update AFTER UPDATE OF name_key, first_name, last_name, email_key, extension ON users
BEGIN
    DELETE FROM users_text WHERE rowid = (SELECT doc FROM users_text_doc WHERE user_id = old.id);
    INSERT INTO users_text (rowid, text) VALUES (
        (SELECT doc FROM users_text_doc WHERE user_id = new.id),
        new.name_key || char(10) || lower(coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''))
            || char(10) || new.email_key || char(10) || coalesce(new.extension, ''));
END;

CREATE TRIGGER users_text_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_text WHERE rowid = (SELECT doc FROM users_text_doc WHERE user_id = old.id);
    DELETE FROM users_text_doc WHERE user_id = old.id;
END;
