-- `users_search` (0014) has the key of `users_by_name` (account_id, name_key, id) and serves every query the
-- latter did; each index is one more entry a user's write inserts (every SCIM update of a name or of `active`
-- inserts into all of them on PostgreSQL, where such an update cannot be a heap-only one).
DROP INDEX users_by_name;
