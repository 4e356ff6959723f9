-- An UPDATE that names the searched columns fires `users_text_update` even when it leaves them as they were:
-- every SCIM PATCH (a title, a phone) rewrites the whole user row, and each rewrite deleted and re-inserted the
-- user's trigram document, a new FTS5 segment per write. Only a change of the searched text touches it now.
DROP TRIGGER users_text_update;
CREATE TRIGGER users_text_update AFTER UPDATE OF name_key, first_name, last_name, email_key, extension ON users
WHEN old.name_key IS NOT new.name_key OR old.first_name IS NOT new.first_name
    OR old.last_name IS NOT new.last_name OR old.email_key IS NOT new.email_key
    OR old.extension IS NOT new.extension
BEGIN
    DELETE FROM users_text WHERE rowid = (SELECT doc FROM users_text_doc WHERE user_id = old.id);
    INSERT INTO users_text (rowid, text) VALUES (
        (SELECT doc FROM users_text_doc WHERE user_id = new.id),
        new.name_key || char(10) || lower(coalesce(new.first_name, '') || ' ' || coalesce(new.last_name, ''))
            || char(10) || new.email_key || char(10) || coalesce(new.extension, ''));
END;
