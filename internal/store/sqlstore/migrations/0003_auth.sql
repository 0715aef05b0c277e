-- ingot controller schema, version 3: identity. UAA group memberships
-- (admin is membership of cloud_controller.admin), OAuth clients, revoked
-- token ids, and the Cloud Controller's user records. Same conventions as
-- 0001.

CREATE TABLE group_members (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    group_name TEXT NOT NULL,
    user_guid  TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    CONSTRAINT group_members_group_user_key UNIQUE (group_name, user_guid)
);
CREATE INDEX group_members_user_idx ON group_members (user_guid, group_name);

CREATE TABLE oauth_clients (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    client_id  TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT oauth_clients_client_id_key UNIQUE (client_id)
);
CREATE INDEX oauth_clients_created_idx ON oauth_clients (created_at, guid);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_revoked_idx ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

CREATE TABLE cc_users (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX cc_users_created_idx ON cc_users (created_at, guid);

-- Admin was a flag in the user's data; it becomes membership of the admin
-- groups. The data is compact JSON written by encoding/json.
INSERT INTO group_members (guid, created_at, updated_at, version, group_name, user_guid)
    SELECT 'legacy-admin-' || guid, created_at, created_at, 1, 'cloud_controller.admin', guid
    FROM users WHERE data LIKE '%"admin":true%';
INSERT INTO group_members (guid, created_at, updated_at, version, group_name, user_guid)
    SELECT 'legacy-scim-read-' || guid, created_at, created_at, 1, 'scim.read', guid
    FROM users WHERE data LIKE '%"admin":true%';
INSERT INTO group_members (guid, created_at, updated_at, version, group_name, user_guid)
    SELECT 'legacy-scim-write-' || guid, created_at, created_at, 1, 'scim.write', guid
    FROM users WHERE data LIKE '%"admin":true%';
INSERT INTO group_members (guid, created_at, updated_at, version, group_name, user_guid)
    SELECT 'legacy-uaa-admin-' || guid, created_at, created_at, 1, 'uaa.admin', guid
    FROM users WHERE data LIKE '%"admin":true%';
UPDATE users SET data = REPLACE(data, '"admin":true', '"admin":false') WHERE data LIKE '%"admin":true%';
-- Every user (and the CLI's public client) gets a Cloud Controller record.
INSERT INTO cc_users (guid, created_at, updated_at, version, data)
    SELECT guid, created_at, created_at, 1, '{}' FROM users;
