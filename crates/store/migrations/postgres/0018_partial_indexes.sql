-- Most users have no mobile and no SCIM work phone, and users not provisioned by SCIM have no login id or
-- external id. In a full index those NULLs are one huge group that makes the planner's statistics call the
-- index unselective, and the uniqueness checks of every SCIM write then scan instead of looking up. Indexing
-- only the rows that have a value keeps each lookup an index search (an equality implies IS NOT NULL, so
-- every `col = $n` query can use these) and the indexes small.
DROP INDEX users_by_mobile;
CREATE INDEX users_by_mobile ON users (account_id, mobile) WHERE mobile IS NOT NULL;
DROP INDEX users_by_login_id;
CREATE INDEX users_by_login_id ON users (account_id, login_id) WHERE login_id IS NOT NULL;
DROP INDEX scim_users_by_external_id;
CREATE UNIQUE INDEX scim_users_by_external_id ON scim_users (account_id, external_id) WHERE external_id IS NOT NULL;
DROP INDEX scim_users_by_work_phone;
CREATE UNIQUE INDEX scim_users_by_work_phone ON scim_users (account_id, work_phone) WHERE work_phone IS NOT NULL;
DROP INDEX scim_users_by_mobile;
CREATE UNIQUE INDEX scim_users_by_mobile ON scim_users (account_id, mobile) WHERE mobile IS NOT NULL;
