CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE deployments (
    guid         TEXT PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    app_guid     TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    status_value TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX deployments_app_idx ON deployments (app_guid, created_at);
CREATE INDEX deployments_created_idx ON deployments (created_at, guid);
