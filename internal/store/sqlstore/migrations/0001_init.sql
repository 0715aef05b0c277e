-- ingot controller schema, version 1.
-- Portable between SQLite and PostgreSQL. Timestamps are unix nanoseconds
-- (BIGINT) so they round-trip exactly on both; key, filter and unique
-- columns are real columns and every other field lives in the JSON text
-- column "data".

CREATE TABLE orgs (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT orgs_name_key UNIQUE (name)
);
CREATE INDEX orgs_created_idx ON orgs (created_at, guid);

CREATE TABLE spaces (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    org_guid   TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT spaces_org_name_key UNIQUE (org_guid, name)
);
CREATE INDEX spaces_created_idx ON spaces (created_at, guid);

CREATE TABLE domains (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    org_guid   TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT domains_name_key UNIQUE (name)
);
CREATE INDEX domains_created_idx ON domains (created_at, guid);
CREATE INDEX domains_org_idx ON domains (org_guid);

CREATE TABLE apps (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    space_guid TEXT NOT NULL,
    state      TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT apps_space_name_key UNIQUE (space_guid, name)
);
CREATE INDEX apps_created_idx ON apps (created_at, guid);
CREATE INDEX apps_state_idx ON apps (state);

CREATE TABLE processes (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    app_guid   TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT processes_app_type_key UNIQUE (app_guid, type)
);
CREATE INDEX processes_created_idx ON processes (created_at, guid);

CREATE TABLE packages (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    app_guid   TEXT NOT NULL,
    type       TEXT NOT NULL,
    state      TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX packages_created_idx ON packages (created_at, guid);
CREATE INDEX packages_app_idx ON packages (app_guid);

CREATE TABLE builds (
    guid         TEXT PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    app_guid     TEXT NOT NULL,
    package_guid TEXT NOT NULL,
    state        TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX builds_created_idx ON builds (created_at, guid);
CREATE INDEX builds_app_idx ON builds (app_guid);
CREATE INDEX builds_package_idx ON builds (package_guid);

CREATE TABLE droplets (
    guid         TEXT PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    app_guid     TEXT NOT NULL,
    package_guid TEXT NOT NULL,
    state        TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX droplets_created_idx ON droplets (created_at, guid);
CREATE INDEX droplets_app_idx ON droplets (app_guid);
CREATE INDEX droplets_package_idx ON droplets (package_guid);

CREATE TABLE routes (
    guid        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    host        TEXT NOT NULL,
    path        TEXT NOT NULL,
    domain_guid TEXT NOT NULL,
    space_guid  TEXT NOT NULL,
    data        TEXT NOT NULL,
    CONSTRAINT routes_domain_host_path_key UNIQUE (domain_guid, host, path)
);
CREATE INDEX routes_created_idx ON routes (created_at, guid);
CREATE INDEX routes_space_idx ON routes (space_guid);

-- A destination goes with its route or its app (ON DELETE CASCADE); it is
-- the only table with foreign keys, so creating one needs both to exist.
CREATE TABLE destinations (
    guid         TEXT PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    route_guid   TEXT NOT NULL REFERENCES routes (guid) ON DELETE CASCADE,
    app_guid     TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    process_type TEXT NOT NULL,
    data         TEXT NOT NULL,
    CONSTRAINT destinations_route_app_type_key UNIQUE (route_guid, app_guid, process_type)
);
CREATE INDEX destinations_created_idx ON destinations (created_at, guid);
CREATE INDEX destinations_app_idx ON destinations (app_guid);

CREATE TABLE jobs (
    guid          TEXT PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    operation     TEXT NOT NULL,
    state         TEXT NOT NULL,
    resource_guid TEXT NOT NULL,
    data          TEXT NOT NULL
);

CREATE TABLE users (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    origin     TEXT NOT NULL,
    username   TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT users_origin_username_key UNIQUE (origin, username)
);
CREATE INDEX users_created_idx ON users (created_at, guid);
