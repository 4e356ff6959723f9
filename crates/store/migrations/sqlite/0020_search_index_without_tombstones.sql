-- The Users search's trigram index (0016) was a contentless table with `contentless_delete=1`: a delete leaves a
-- tombstone that every later merge of the index checks entry by entry (`fts5MultiIterIsDeleted` was 13 % of the
-- server's time while SCIM renamed users). A classic contentless table deletes a document by being given its
-- text again, which writes an ordinary delete marker that merges drop; the triggers have the old text at hand.
DROP TRIGGER users_text_insert;
DROP TRIGGER users_text_update;
DROP TRIGGER users_text_delete;
DROP TABLE users_text;
CREATE VIRTUAL TABLE users_text USING fts5(text, content='', tokenize='trigram');

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

-- Only a change of the searched text touches the index (0019).
CREATE TRIGGER users_text_update AFTER UPDATE OF name_key, first_name, last_name, email_key, extension ON users
WHEN old.name_key IS NOT new.name_key OR old.first_name IS NOT new.first_name
    OR old.last_name IS NOT new.last_name OR old.email_key IS NOT new.email_key
    OR old.extension IS NOT new.extension
BEGIN
    INSERT INTO users_text (users_text, rowid, text) VALUES ('delete',
        (SELECT doc FROM users_text_doc WHERE user_id = old.id),
        old.name_key || char(10) || lower(coalesce(old.first_name, '') || ' ' || coalesce(old.last_name, ''))
            || char(10) || old.email_key || char(10) || coalesce(old.extension, ''));
    INSERT INTO users_text (rowid, text) VALUES (
        (SELECT doc FROM users_text_doc WHERE user_id = new.id),
        new.name_key || char(10) || lower(coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''))
            || char(10) || new.email_key || char(10) || coalesce(new.extension, ''));
END;

CREATE TRIGGER users_text_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_text (users_text, rowid, text) VALUES ('delete',
        (SELECT doc FROM users_text_doc WHERE user_id = old.id),
        old.name_key || char(10) || lower(coalesce(old.first_name, '') || ' ' || coalesce(old.last_name, ''))
            || char(10) || old.email_key || char(10) || coalesce(old.extension, ''));
    DELETE FROM users_text_doc WHERE user_id = old.id;
END;
