package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/ingot-paas/ingot/internal/broker/brokerkit"
	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Server error numbers the provider handles.
const errUnknownThread = 1094

// CharacterSets are the character sets a provision may ask for.
var CharacterSets = []string{"utf8mb4", "utf8mb3", "utf8", "latin1", "ascii", "binary"}

var collationPattern = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// InstanceParameters are the parameters of provision and update.
type InstanceParameters struct {
	// CharacterSet of the database; default utf8mb4. An update changes
	// the default of tables created afterwards.
	CharacterSet string `json:"character_set,omitempty"`
	// Collation of the database; default the character set's default.
	Collation string `json:"collation,omitempty"`
}

type provider struct {
	db    *sql.DB
	host  string
	port  int
	plans brokerkit.Plans[Plan]
	log   *slog.Logger
}

func newProvider(db *sql.DB, host string, port int, plans []Plan, log *slog.Logger) *provider {
	p := &provider{db: db, host: host, port: port, plans: brokerkit.NewPlans(plans, func(p Plan) string { return p.ID }), log: log}
	return p
}

// InstanceName is the database name of an instance.
func InstanceName(instanceID string) string { return "si_" + osb.NameHash(instanceID) }

// BindingName is the user name of a binding.
func BindingName(instanceID, bindingID string) string {
	return "b_" + osb.NameHash(instanceID, bindingID)
}

func ident(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// literal quotes a string literal. The values quoted here (derived names,
// hex passwords) never contain backslashes, so the result is the same
// with and without the NO_BACKSLASH_ESCAPES SQL mode.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// grantPattern is a database name as GRANT and mysql.db see it: '_' and
// '%' are wildcards there and must be escaped.
func grantPattern(name string) string {
	return strings.NewReplacer("_", `\_`, "%", `\%`).Replace(name)
}

func account(user string) string { return literal(user) + "@'%'" }

func (p *provider) exec(ctx context.Context, what, q string) error {
	if _, err := p.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func decodeInstanceParameters(raw json.RawMessage) (InstanceParameters, error) {
	var params InstanceParameters
	if err := osb.DecodeParameters(raw, &params); err != nil {
		return params, err
	}
	if params.CharacterSet == "" {
		params.CharacterSet = "utf8mb4"
	}
	if !slices.Contains(CharacterSets, params.CharacterSet) {
		return params, fmt.Errorf("%w: character_set %q is not one of %s", osb.ErrBadRequest, params.CharacterSet, strings.Join(CharacterSets, ", "))
	}
	if params.Collation != "" && !collationPattern.MatchString(params.Collation) {
		return params, fmt.Errorf("%w: malformed collation %q", osb.ErrBadRequest, params.Collation)
	}
	return params, nil
}

func (params InstanceParameters) clause() string {
	c := " CHARACTER SET " + params.CharacterSet
	if params.Collation != "" {
		c += " COLLATE " + params.Collation
	}
	return c
}

func (p *provider) ValidateInstanceParameters(ctx context.Context, planID string, raw json.RawMessage) error {
	if _, err := p.plans.Get(planID); err != nil {
		return err
	}
	params, err := decodeInstanceParameters(raw)
	if err != nil || params.Collation == "" {
		return err
	}
	var n int
	err = p.db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.COLLATIONS
		WHERE COLLATION_NAME = ? AND CHARACTER_SET_NAME = ?`, params.Collation, params.CharacterSet).Scan(&n)
	if err != nil {
		return fmt.Errorf("look up collation: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: collation %q does not exist for character set %s", osb.ErrBadRequest, params.Collation, params.CharacterSet)
	}
	return nil
}

func (p *provider) ValidateBindingParameters(_ context.Context, _ *osb.Instance, raw json.RawMessage) error {
	return brokerkit.NoParameters(raw)
}

func (p *provider) Provision(ctx context.Context, inst *osb.Instance) error {
	if _, err := p.plans.Get(inst.PlanID); err != nil {
		return err
	}
	params, err := decodeInstanceParameters(inst.Parameters)
	if err != nil {
		return err
	}
	name := InstanceName(inst.ID)
	if err := p.exec(ctx, "create database "+name, `CREATE DATABASE IF NOT EXISTS `+ident(name)+params.clause()); err != nil {
		return err
	}
	// An earlier attempt may have made it: make it what it should be.
	return p.exec(ctx, "set character set of "+name, `ALTER DATABASE `+ident(name)+params.clause())
}

// databaseUsers lists the users granted on an instance's database.
func (p *provider) databaseUsers(ctx context.Context, name string) ([]string, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT DISTINCT User FROM mysql.db WHERE Db = ? AND Host = '%' ORDER BY 1`, grantPattern(name))
	if err != nil {
		return nil, fmt.Errorf("list users of %s: %w", name, err)
	}
	defer rows.Close()
	var users []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("list users of %s: %w", name, err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
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
	if err := p.exec(ctx, "set character set of "+name, `ALTER DATABASE `+ident(name)+params.clause()); err != nil {
		return err
	}
	users, err := p.databaseUsers(ctx, name)
	if err != nil {
		return err
	}
	for _, u := range users {
		q := fmt.Sprintf(`ALTER USER %s WITH MAX_USER_CONNECTIONS %d`, account(u), plan.MaxUserConnections)
		if err := p.exec(ctx, "set connection limit of "+u, q); err != nil {
			return err
		}
	}
	return nil
}

// killSessions kills the connections of users (other than this one).
func (p *provider) killSessions(ctx context.Context, users []string) error {
	if len(users) == 0 {
		return nil
	}
	args := make([]any, len(users))
	marks := make([]string, len(users))
	for i, u := range users {
		args[i], marks[i] = u, "?"
	}
	rows, err := p.db.QueryContext(ctx, `SELECT ID FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND USER IN (`+strings.Join(marks, ",")+`)`, args...)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("list sessions: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	for _, id := range ids {
		if _, err := p.db.ExecContext(ctx, fmt.Sprintf(`KILL CONNECTION %d`, id)); err != nil && mysqlErrNumber(err) != errUnknownThread {
			return fmt.Errorf("kill session %d: %w", id, err)
		}
	}
	return nil
}

// dropUsers drops users, then kills their sessions (a dropped user cannot
// reconnect, so none can slip in between).
func (p *provider) dropUsers(ctx context.Context, users []string) error {
	for _, u := range users {
		if err := p.exec(ctx, "drop user "+u, `DROP USER IF EXISTS `+account(u)); err != nil {
			return err
		}
	}
	return p.killSessions(ctx, users)
}

func (p *provider) Deprovision(ctx context.Context, inst *osb.Instance, bindings []*osb.Binding) error {
	name := InstanceName(inst.ID)
	users, err := p.databaseUsers(ctx, name)
	if err != nil {
		return err
	}
	for _, b := range bindings {
		if u := BindingName(inst.ID, b.ID); !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	if err := p.dropUsers(ctx, users); err != nil {
		return err
	}
	return p.exec(ctx, "drop database "+name, `DROP DATABASE IF EXISTS `+ident(name))
}

func (p *provider) Bind(ctx context.Context, inst *osb.Instance, b *osb.Binding) (map[string]any, error) {
	plan, err := p.plans.Get(inst.PlanID)
	if err != nil {
		return nil, err
	}
	name := InstanceName(inst.ID)
	user := BindingName(inst.ID, b.ID)
	password, err := osb.RandomSecret()
	if err != nil {
		return nil, err
	}
	// The statements carry the password: errors name the step only.
	limit := fmt.Sprintf(` WITH MAX_USER_CONNECTIONS %d`, plan.MaxUserConnections)
	if err := p.exec(ctx, "create user "+user, `CREATE USER IF NOT EXISTS `+account(user)+` IDENTIFIED BY `+literal(password)+limit); err != nil {
		return nil, err
	}
	if err := p.exec(ctx, "set password of "+user, `ALTER USER `+account(user)+` IDENTIFIED BY `+literal(password)+limit); err != nil {
		return nil, err
	}
	if err := p.exec(ctx, "grant "+name+" to "+user, `GRANT ALL PRIVILEGES ON `+ident(grantPattern(name))+`.* TO `+account(user)); err != nil {
		return nil, err
	}
	return p.credentials(name, user, password), nil
}

func (p *provider) credentials(database, user, password string) map[string]any {
	return brokerkit.SQLCredentials("mysql", "reconnect=true", "mysql", p.host, p.port, database, user, password)
}

func (p *provider) Unbind(ctx context.Context, inst *osb.Instance, b *osb.Binding) error {
	return p.dropUsers(ctx, []string{BindingName(inst.ID, b.ID)})
}
