package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// PostgreSQL error codes the provider handles.
const (
	codeDuplicateDatabase = "42P04"
	codeDuplicateObject   = "42710"
	codeInvalidCatalog    = "3D000" // database does not exist
)

// AllowedExtensions are the extensions a provision may ask for (each must
// also be available on the server).
var AllowedExtensions = []string{
	"btree_gin", "btree_gist", "citext", "cube", "earthdistance", "fuzzystrmatch",
	"hstore", "intarray", "isn", "ltree", "pg_trgm", "pgcrypto", "postgis",
	"tablefunc", "unaccent", "uuid-ossp", "vector",
}

// InstanceParameters are the parameters of provision and update.
type InstanceParameters struct {
	// Extensions to create in the database. An update creates the ones
	// missing and never drops any (that could destroy data).
	Extensions []string `json:"extensions,omitempty"`
}

type provider struct {
	pool      *pgxpool.Pool
	adminConn *pgx.ConnConfig
	host      string
	port      int
	plans     brokerkit.Plans[Plan]
	forceDrop bool // DROP DATABASE … WITH (FORCE), PostgreSQL 13+
	log       *slog.Logger
}

func newProvider(ctx context.Context, pool *pgxpool.Pool, adminConn *pgx.ConnConfig, host string, port int, plans []Plan, log *slog.Logger) (*provider, error) {
	var version int
	var super bool
	err := pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&version, &super)
	if err != nil {
		return nil, fmt.Errorf("inspect the admin role: %w", err)
	}
	if !super {
		log.Warn("admin-not-superuser", "detail", "provisioning needs a superuser admin role")
	}
	p := &provider{pool: pool, adminConn: adminConn, host: host, port: port, plans: brokerkit.NewPlans(plans, func(p Plan) string { return p.ID }),
		forceDrop: version >= 130000, log: log}
	return p, nil
}

// InstanceName is the database and role name of an instance.
func InstanceName(instanceID string) string { return "si_" + osb.NameHash(instanceID) }

// BindingName is the login role of a binding.
func BindingName(instanceID, bindingID string) string {
	return "b_" + osb.NameHash(instanceID, bindingID)
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// literal quotes a string literal (standard_conforming_strings is on in
// every supported PostgreSQL).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// exec runs a utility statement with the simple protocol (no statement
// caching of one-off DDL; CREATE DATABASE outside any transaction).
func (p *provider) exec(ctx context.Context, what, sql string) error {
	if _, err := p.pool.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func decodeInstanceParameters(raw json.RawMessage) (InstanceParameters, error) {
	var params InstanceParameters
	if err := osb.DecodeParameters(raw, &params); err != nil {
		return params, err
	}
	for _, e := range params.Extensions {
		if !slices.Contains(AllowedExtensions, e) {
			return params, fmt.Errorf("%w: extension %q is not allowed (allowed: %s)", osb.ErrBadRequest, e, strings.Join(AllowedExtensions, ", "))
		}
	}
	slices.Sort(params.Extensions)
	params.Extensions = slices.Compact(params.Extensions)
	return params, nil
}

func (p *provider) ValidateInstanceParameters(ctx context.Context, planID string, raw json.RawMessage) error {
	if _, err := p.plans.Get(planID); err != nil {
		return err
	}
	params, err := decodeInstanceParameters(raw)
	if err != nil {
		return err
	}
	if len(params.Extensions) == 0 {
		return nil
	}
	rows, err := p.pool.Query(ctx, `SELECT name FROM pg_available_extensions WHERE name = ANY($1)`, params.Extensions)
	if err != nil {
		return fmt.Errorf("list available extensions: %w", err)
	}
	available, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list available extensions: %w", err)
	}
	for _, e := range params.Extensions {
		if !slices.Contains(available, e) {
			return fmt.Errorf("%w: extension %q is not available on this server", osb.ErrBadRequest, e)
		}
	}
	return nil
}

func (p *provider) ValidateBindingParameters(_ context.Context, _ *osb.Instance, raw json.RawMessage) error {
	return brokerkit.NoParameters(raw)
}

func (p *provider) roleExists(ctx context.Context, name string) (bool, error) {
	var n int
	err := p.pool.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up role %s: %w", name, err)
	}
	return n > 0, nil
}

// withDatabase runs fn on an admin connection to database name. found is
// false (and fn not run) when the database does not exist.
func (p *provider) withDatabase(ctx context.Context, name string, fn func(*pgx.Conn) error) (found bool, err error) {
	cc := p.adminConn.Copy()
	cc.Database = name
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		if pgCode(err) == codeInvalidCatalog {
			return false, nil
		}
		return false, fmt.Errorf("connect to database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return true, fn(conn)
}

func (p *provider) Provision(ctx context.Context, inst *osb.Instance) error {
	plan, err := p.plans.Get(inst.PlanID)
	if err != nil {
		return err
	}
	params, err := decodeInstanceParameters(inst.Parameters)
	if err != nil {
		return err
	}
	name := InstanceName(inst.ID)
	exists, err := p.roleExists(ctx, name)
	if err != nil {
		return err
	}
	if !exists {
		if err := p.exec(ctx, "create role "+name, `CREATE ROLE `+ident(name)+` NOLOGIN`); err != nil && pgCode(err) != codeDuplicateObject {
			return err
		}
	}
	create := fmt.Sprintf(`CREATE DATABASE %s OWNER %s CONNECTION LIMIT %d`, ident(name), ident(name), plan.ConnectionLimit)
	switch err := p.exec(ctx, "create database "+name, create); {
	case pgCode(err) == codeDuplicateDatabase:
		// An earlier attempt got this far: make it what it should be.
		if err := p.exec(ctx, "set owner of "+name, `ALTER DATABASE `+ident(name)+` OWNER TO `+ident(name)); err != nil {
			return err
		}
		if err := p.setConnectionLimit(ctx, name, plan.ConnectionLimit); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if err := p.exec(ctx, "revoke public access to "+name, `REVOKE ALL ON DATABASE `+ident(name)+` FROM PUBLIC`); err != nil {
		return err
	}
	return p.prepareDatabase(ctx, name, params.Extensions)
}

// prepareDatabase gives the public schema to the instance role and creates
// the extensions.
func (p *provider) prepareDatabase(ctx context.Context, name string, extensions []string) error {
	found, err := p.withDatabase(ctx, name, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `ALTER SCHEMA public OWNER TO `+ident(name), pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("give schema public of %s to its role: %w", name, err)
		}
		for _, e := range extensions {
			if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS `+ident(e), pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("create extension %s in %s: %w", e, name, err)
			}
		}
		return nil
	})
	if err == nil && !found {
		err = fmt.Errorf("database %s vanished while it was being prepared", name)
	}
	return err
}

func (p *provider) setConnectionLimit(ctx context.Context, name string, limit int) error {
	return p.exec(ctx, "set connection limit of "+name,
		fmt.Sprintf(`ALTER DATABASE %s CONNECTION LIMIT %d`, ident(name), limit))
}

func (p *provider) Update(ctx context.Context, inst *osb.Instance, planID string, raw json.RawMessage) error {
	plan, err := p.plans.Get(planID)
	if err != nil {
		return err
	}
	params, err := decodeInstanceParameters(raw)
	if err != nil {
		return err
	}
	name := InstanceName(inst.ID)
	if err := p.setConnectionLimit(ctx, name, plan.ConnectionLimit); err != nil {
		return err
	}
	return p.prepareDatabase(ctx, name, params.Extensions)
}

// memberRoles lists the roles that are members of the instance role.
func (p *provider) memberRoles(ctx context.Context, name string) ([]string, error) {
	rows, err := p.pool.Query(ctx, `SELECT m.rolname FROM pg_auth_members am
		JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
		WHERE g.rolname = $1 ORDER BY 1`, name)
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", name, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list members of %s: %w", name, err)
	}
	return names, nil
}

// disableLogins turns the roles' logins off and terminates their sessions
// (and, when database is set, every session on it).
func (p *provider) disableLogins(ctx context.Context, roles []string, database string) error {
	for _, r := range roles {
		if err := p.exec(ctx, "disable login of "+r, `ALTER ROLE `+ident(r)+` NOLOGIN`); err != nil && !isMissingRole(err) {
			return err
		}
	}
	_, err := p.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND (usename = ANY($1) OR datname = $2)`, roles, database)
	if err != nil {
		return fmt.Errorf("terminate sessions: %w", err)
	}
	return nil
}

func isMissingRole(err error) bool { return pgCode(err) == "42704" } // undefined_object

func (p *provider) Deprovision(ctx context.Context, inst *osb.Instance, bindings []*osb.Binding) error {
	name := InstanceName(inst.ID)
	roles, err := p.memberRoles(ctx, name)
	if err != nil {
		return err
	}
	for _, b := range bindings {
		if r := BindingName(inst.ID, b.ID); !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if err := p.disableLogins(ctx, roles, name); err != nil {
		return err
	}
	drop := `DROP DATABASE IF EXISTS ` + ident(name)
	if p.forceDrop {
		drop += ` WITH (FORCE)`
	}
	if err := p.exec(ctx, "drop database "+name, drop); err != nil {
		return err
	}
	exists, err := p.roleExists(ctx, name)
	if err != nil {
		return err
	}
	if exists {
		roles = append(roles, name)
	}
	return p.dropRoles(ctx, roles)
}

// dropRoles drops roles, first dropping whatever they own or were granted
// in the admin database (objects they made elsewhere were in the dropped
// instance database).
func (p *provider) dropRoles(ctx context.Context, roles []string) error {
	var present []string
	for _, r := range roles {
		ok, err := p.roleExists(ctx, r)
		if err != nil {
			return err
		}
		if ok {
			present = append(present, r)
		}
	}
	if len(present) == 0 {
		return nil
	}
	quoted := make([]string, len(present))
	for i, r := range present {
		quoted[i] = ident(r)
	}
	list := strings.Join(quoted, ", ")
	if err := p.exec(ctx, "drop objects owned by the instance's roles", `DROP OWNED BY `+list); err != nil {
		return err
	}
	for _, r := range present {
		if err := p.exec(ctx, "drop role "+r, `DROP ROLE IF EXISTS `+ident(r)); err != nil {
			return err
		}
	}
	return nil
}

func (p *provider) Bind(ctx context.Context, inst *osb.Instance, b *osb.Binding) (map[string]any, error) {
	name := InstanceName(inst.ID)
	role := BindingName(inst.ID, b.ID)
	password, err := osb.RandomSecret()
	if err != nil {
		return nil, err
	}
	exists, err := p.roleExists(ctx, role)
	if err != nil {
		return nil, err
	}
	// The password is never part of an error message.
	if !exists {
		err = p.exec(ctx, "create role "+role, `CREATE ROLE `+ident(role)+` LOGIN PASSWORD `+literal(password))
		if err != nil && pgCode(err) != codeDuplicateObject {
			return nil, err
		}
	}
	if exists || err != nil {
		if err := p.exec(ctx, "set password of "+role, `ALTER ROLE `+ident(role)+` LOGIN PASSWORD `+literal(password)); err != nil {
			return nil, err
		}
	}
	if err := p.exec(ctx, "grant "+name+" to "+role, `GRANT `+ident(name)+` TO `+ident(role)); err != nil {
		return nil, err
	}
	if err := p.exec(ctx, "make "+role+" act as "+name, `ALTER ROLE `+ident(role)+` SET role = `+literal(name)); err != nil {
		return nil, err
	}
	return p.credentials(name, role, password), nil
}

func (p *provider) credentials(database, user, password string) map[string]any {
	return brokerkit.SQLCredentials("postgres", "", "postgresql", p.host, p.port, database, user, password)
}

func (p *provider) Unbind(ctx context.Context, inst *osb.Instance, b *osb.Binding) error {
	name := InstanceName(inst.ID)
	role := BindingName(inst.ID, b.ID)
	exists, err := p.roleExists(ctx, role)
	if err != nil || !exists {
		return err
	}
	if err := p.disableLogins(ctx, []string{role}, ""); err != nil {
		return err
	}
	// Objects the binding made after RESET ROLE belong to it: hand them to
	// the instance role so that the other bindings keep them.
	_, err = p.withDatabase(ctx, name, func(conn *pgx.Conn) error {
		q := `REASSIGN OWNED BY ` + ident(role) + ` TO ` + ident(name) + `; DROP OWNED BY ` + ident(role)
		if _, err := conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("reassign objects of %s: %w", role, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.dropRoles(ctx, []string{role})
}
