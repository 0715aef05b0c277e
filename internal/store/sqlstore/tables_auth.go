package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ingot-paas/ingot/internal/store"
)

// Identity: group memberships, OAuth clients, revoked tokens and the Cloud
// Controller's user records.

var groupMemberTable = &table[store.GroupMember]{
	name: "group_members", what: "group membership",
	cols: []string{"group_name", "user_guid"},
	meta: func(r *store.GroupMember) *store.Meta { return &r.Meta },
	values: func(r *store.GroupMember) ([]any, error) {
		return []any{r.Group, r.UserGUID}, nil
	},
	scan: func(r *store.GroupMember) ([]any, func() error) {
		return []any{&r.Group, &r.UserGUID}, nil
	},
}

type groupStore struct{ s *Store }

func (g groupStore) Add(ctx context.Context, m *store.GroupMember) error {
	if m.Group == "" || m.UserGUID == "" {
		return fmt.Errorf("add group membership: group and user are required")
	}
	return groupMemberTable.create(ctx, g.s, m)
}

func (g groupStore) Remove(ctx context.Context, group, userGUID string) error {
	res, err := g.s.exec(ctx, "DELETE FROM group_members WHERE group_name = ? AND user_guid = ?", group, userGUID)
	if err != nil {
		return fmt.Errorf("remove %s from group %s: %w", userGUID, group, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("remove %s from group %s: %w", userGUID, group, err)
	}
	if n == 0 {
		return fmt.Errorf("remove %s from group %s: %w", userGUID, group, store.ErrNotFound)
	}
	return nil
}

func (g groupStore) listWhere(ctx context.Context, where, order string, arg string) ([]*store.GroupMember, error) {
	t := groupMemberTable
	rows, err := g.s.query(ctx, "SELECT "+t.selectCols()+" FROM "+t.name+" WHERE "+where+" ORDER BY "+order, arg)
	if err != nil {
		return nil, fmt.Errorf("list group memberships: %w", err)
	}
	defer rows.Close()
	var out []*store.GroupMember
	for rows.Next() {
		m, err := t.scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("list group memberships: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list group memberships: %w", err)
	}
	return out, nil
}

func (g groupStore) ListForUser(ctx context.Context, userGUID string) ([]*store.GroupMember, error) {
	return g.listWhere(ctx, "user_guid = ?", "group_name", userGUID)
}

func (g groupStore) ListMembers(ctx context.Context, group string) ([]*store.GroupMember, error) {
	return g.listWhere(ctx, "group_name = ?", "created_at, guid", group)
}

type oauthClientData struct {
	SecretHash      string   `json:"secret_hash"`
	Scopes          []string `json:"scopes"`
	Authorities     []string `json:"authorities"`
	GrantTypes      []string `json:"grant_types"`
	AccessTokenTTL  int64    `json:"access_token_ttl_ns,omitempty"`
	RefreshTokenTTL int64    `json:"refresh_token_ttl_ns,omitempty"`
	Epoch           int64    `json:"revocation_epoch,omitempty"`
}

var oauthClientTable = &table[store.OAuthClient]{
	name: "oauth_clients", what: "oauth client",
	cols: []string{"client_id", "data"},
	meta: func(r *store.OAuthClient) *store.Meta { return &r.Meta },
	values: func(r *store.OAuthClient) ([]any, error) {
		d, err := jsonCol(oauthClientData{SecretHash: r.SecretHash, Scopes: r.Scopes, Authorities: r.Authorities,
			GrantTypes: r.GrantTypes, AccessTokenTTL: int64(r.AccessTokenTTL), RefreshTokenTTL: int64(r.RefreshTokenTTL),
			Epoch: r.RevocationEpoch})
		return []any{r.ClientID, d}, err
	},
	scan: func(r *store.OAuthClient) ([]any, func() error) {
		var d oauthClientData
		p, fin := dataScan(&d)
		return []any{&r.ClientID, p}, finishData(fin, func() {
			r.SecretHash, r.Scopes, r.Authorities, r.GrantTypes = d.SecretHash, d.Scopes, d.Authorities, d.GrantTypes
			r.AccessTokenTTL, r.RefreshTokenTTL = time.Duration(d.AccessTokenTTL), time.Duration(d.RefreshTokenTTL)
			r.RevocationEpoch = d.Epoch
		})
	},
	filters: func(o store.ListOptions) []filter { return []filter{{"client_id", o.Names}} },
}

type oauthClientStore struct{ crud[store.OAuthClient] }

func (x oauthClientStore) GetByClientID(ctx context.Context, clientID string) (*store.OAuthClient, error) {
	return x.t.getWhere(ctx, x.s, clientID, "client_id = ?", clientID)
}

type revokedTokenStore struct{ s *Store }

func (x revokedTokenStore) Add(ctx context.Context, r *store.RevokedToken) error {
	if r.JTI == "" {
		return fmt.Errorf("revoke token: jti is required")
	}
	if r.RevokedAt.IsZero() {
		r.RevokedAt = now()
	}
	r.RevokedAt = r.RevokedAt.UTC().Round(0)
	r.ExpiresAt = r.ExpiresAt.UTC().Round(0)
	// A second revocation of the same jti keeps the first row.
	_, err := x.s.exec(ctx, `INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?)
		ON CONFLICT (jti) DO NOTHING`, r.JTI, toNanos(r.ExpiresAt), toNanos(r.RevokedAt))
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", r.JTI, mapErr(err))
	}
	return nil
}

func (x revokedTokenStore) ListRevokedSince(ctx context.Context, since, at time.Time) ([]*store.RevokedToken, error) {
	rows, err := x.s.query(ctx, `SELECT jti, expires_at, revoked_at FROM revoked_tokens
		WHERE revoked_at >= ? AND expires_at > ? ORDER BY revoked_at, jti`, toNanos(since), toNanos(at))
	if err != nil {
		return nil, fmt.Errorf("list revoked tokens: %w", err)
	}
	defer rows.Close()
	var out []*store.RevokedToken
	for rows.Next() {
		var (
			r        store.RevokedToken
			exp, rev int64
		)
		if err := rows.Scan(&r.JTI, &exp, &rev); err != nil {
			return nil, fmt.Errorf("list revoked tokens: %w", err)
		}
		r.ExpiresAt, r.RevokedAt = fromNanos(exp), fromNanos(rev)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked tokens: %w", err)
	}
	return out, nil
}

func (x revokedTokenStore) DeleteExpired(ctx context.Context, at time.Time) (int64, error) {
	res, err := x.s.exec(ctx, "DELETE FROM revoked_tokens WHERE expires_at <= ?", toNanos(at))
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", err)
	}
	return n, nil
}

var ccUserTable = &table[store.CCUser]{
	name: "cc_users", what: "cc user",
	cols: []string{"data"},
	meta: func(r *store.CCUser) *store.Meta { return &r.Meta },
	values: func(r *store.CCUser) ([]any, error) {
		return []any{"{}"}, nil
	},
	scan: func(r *store.CCUser) ([]any, func() error) {
		var d string
		return []any{&d}, nil
	},
}

func (s *Store) Groups() store.GroupStore { return groupStore{s} }
func (s *Store) OAuthClients() store.OAuthClientStore {
	return oauthClientStore{crud[store.OAuthClient]{s, oauthClientTable}}
}
func (s *Store) RevokedTokens() store.RevokedTokenStore { return revokedTokenStore{s} }
func (s *Store) CCUsers() store.CCUserStore             { return crud[store.CCUser]{s, ccUserTable} }
