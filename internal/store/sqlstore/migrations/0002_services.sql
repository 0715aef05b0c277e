-- ingot controller schema, version 2: services (OSB brokers, offerings,
-- plans, instances, credential bindings). Same conventions as 0001.

CREATE TABLE service_brokers (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    space_guid TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT service_brokers_name_key UNIQUE (name)
);
CREATE INDEX service_brokers_created_idx ON service_brokers (created_at, guid);

CREATE TABLE service_offerings (
    guid        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    broker_guid TEXT NOT NULL,
    catalog_id  TEXT NOT NULL,
    data        TEXT NOT NULL,
    CONSTRAINT service_offerings_broker_catalog_key UNIQUE (broker_guid, catalog_id)
);
CREATE INDEX service_offerings_created_idx ON service_offerings (created_at, guid);
CREATE INDEX service_offerings_name_idx ON service_offerings (name);

CREATE TABLE service_plans (
    guid          TEXT PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    name          TEXT NOT NULL,
    offering_guid TEXT NOT NULL,
    catalog_id    TEXT NOT NULL,
    data          TEXT NOT NULL,
    CONSTRAINT service_plans_offering_catalog_key UNIQUE (offering_guid, catalog_id)
);
CREATE INDEX service_plans_created_idx ON service_plans (created_at, guid);
CREATE INDEX service_plans_offering_idx ON service_plans (offering_guid);

CREATE TABLE service_instances (
    guid       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    space_guid TEXT NOT NULL,
    type       TEXT NOT NULL,
    plan_guid  TEXT NOT NULL,
    data       TEXT NOT NULL,
    CONSTRAINT service_instances_space_name_key UNIQUE (space_guid, name)
);
CREATE INDEX service_instances_created_idx ON service_instances (created_at, guid);
CREATE INDEX service_instances_plan_idx ON service_instances (plan_guid);

-- uniq is "app:<app guid>" for an app binding and "key:<name>" for a key,
-- so an app binds an instance once and key names are unique per instance.
CREATE TABLE service_bindings (
    guid          TEXT PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    type          TEXT NOT NULL,
    name          TEXT NOT NULL,
    instance_guid TEXT NOT NULL,
    app_guid      TEXT NOT NULL,
    uniq          TEXT NOT NULL,
    data          TEXT NOT NULL,
    CONSTRAINT service_bindings_instance_uniq_key UNIQUE (instance_guid, uniq)
);
CREATE INDEX service_bindings_created_idx ON service_bindings (created_at, guid);
CREATE INDEX service_bindings_app_idx ON service_bindings (app_guid);
