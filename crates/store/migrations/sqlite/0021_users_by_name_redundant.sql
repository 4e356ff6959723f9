-- `users_search` (0014) begins with the key of `users_by_name` (account_id, name_key, id) and serves every
-- query the latter did; each index is one more entry a user's write rewrites.
DROP INDEX users_by_name;
