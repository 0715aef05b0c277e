-- ingot controller schema, version 4: tenancy (roles, organization and
-- space quotas and their assignments, audit events). Same conventions as
-- 0001.

CREATE TABLE roles (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    type       TEXT NOT NULL,
    user_guid  TEXT NOT NULL,
    org_guid   TEXT NOT NULL,
    space_guid TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT roles_unique_key UNIQUE (type, user_guid, org_guid, space_guid)
);
CREATE INDEX roles_created_idx ON roles (created_at, guid);
CREATE INDEX roles_user_idx ON roles (user_guid);
CREATE INDEX roles_org_idx ON roles (org_guid);
CREATE INDEX roles_space_idx ON roles (space_guid);

CREATE TABLE org_quotas (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT org_quotas_name_key UNIQUE (name)
);
CREATE INDEX org_quotas_created_idx ON org_quotas (created_at, guid);

CREATE TABLE space_quotas (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    org_guid   TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT space_quotas_org_name_key UNIQUE (org_guid, name)
);
CREATE INDEX space_quotas_created_idx ON space_quotas (created_at, guid);

CREATE TABLE quota_assignments (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    quota_guid TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX quota_assignments_created_idx ON quota_assignments (created_at, guid);
CREATE INDEX quota_assignments_quota_idx ON quota_assignments (quota_guid);

CREATE TABLE audit_events (
    guid        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    type        TEXT NOT NULL,
    actor_guid  TEXT NOT NULL,
    target_guid TEXT NOT NULL,
    space_guid  TEXT NOT NULL,
    org_guid    TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX audit_events_created_idx ON audit_events (created_at, guid);
CREATE INDEX audit_events_target_idx ON audit_events (target_guid);
CREATE INDEX audit_events_space_idx ON audit_events (space_guid);
CREATE INDEX audit_events_org_idx ON audit_events (org_guid);
