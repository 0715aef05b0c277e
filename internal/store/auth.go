package store

import (
	"context"
	"time"
)

// Identity (the controller's UAA): group memberships, OAuth clients,
// revoked tokens, and the Cloud Controller's own user records.

// GroupMember makes a user a member of a UAA group; a group's name is the
// scope it grants (e.g. "cloud_controller.admin"). (Group, UserGUID) is
// unique; memberships are deleted with their user.
type GroupMember struct {
	Meta
	Group    string
	UserGUID string
}

// GroupStore holds group memberships.
type GroupStore interface {
	// Add creates m (ErrDuplicate when the user already is a member,
	// ErrNotFound when the user does not exist).
	Add(ctx context.Context, m *GroupMember) error
	// Remove deletes the membership (ErrNotFound when absent).
	Remove(ctx context.Context, group, userGUID string) error
	// ListForUser lists a user's memberships, ordered by group.
	ListForUser(ctx context.Context, userGUID string) ([]*GroupMember, error)
	// ListMembers lists a group's memberships in creation order.
	ListMembers(ctx context.Context, group string) ([]*GroupMember, error)
}

// OAuthClient is an OAuth client registered with the UAA; ClientID is
// unique.
type OAuthClient struct {
	Meta
	ClientID string
	// SecretHash is the bcrypt hash of the secret; "" = a public client
	// (empty secret).
	SecretHash string
	// Scopes bound what user tokens issued to this client may carry.
	Scopes []string
	// Authorities are the scopes of the client's own (client_credentials)
	// tokens.
	Authorities []string
	// GrantTypes are the grants the client may use (password,
	// refresh_token, client_credentials).
	GrantTypes []string
	// AccessTokenTTL and RefreshTokenTTL override the defaults when > 0.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// RevocationEpoch increases when the secret changes or every token of
	// the client is revoked; tokens carrying an older epoch are refused.
	RevocationEpoch int64
}

// OAuthClientStore: ClientID is unique (ErrDuplicate).
type OAuthClientStore interface {
	Create(ctx context.Context, c *OAuthClient) error
	Get(ctx context.Context, guid string) (*OAuthClient, error)
	GetByClientID(ctx context.Context, clientID string) (*OAuthClient, error)
	List(ctx context.Context, opt ListOptions) ([]*OAuthClient, error) // GUIDs, Names (client ids)
	Update(ctx context.Context, c *OAuthClient) error
	Delete(ctx context.Context, guid string) error
}

// RevokedToken is one token revoked by its jti, kept until it expires.
type RevokedToken struct {
	JTI       string
	ExpiresAt time.Time
	RevokedAt time.Time
}

// RevokedTokenStore holds revoked token ids.
type RevokedTokenStore interface {
	// Add records a revocation; adding a jti twice is not an error.
	// RevokedAt is set by the store when zero.
	Add(ctx context.Context, r *RevokedToken) error
	// ListRevokedSince lists the unexpired revocations (ExpiresAt after
	// now) with RevokedAt at or after since, ordered by RevokedAt.
	ListRevokedSince(ctx context.Context, since, now time.Time) ([]*RevokedToken, error)
	// DeleteExpired deletes revocations whose token expired before now
	// and returns how many.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// CCUser is the Cloud Controller's record of a user (POST /v3/users); its
// GUID is the UAA user's id or a client id.
type CCUser struct {
	Meta
}

// CCUserStore holds Cloud Controller users.
type CCUserStore interface {
	Create(ctx context.Context, u *CCUser) error
	Get(ctx context.Context, guid string) (*CCUser, error)
	List(ctx context.Context, opt ListOptions) ([]*CCUser, error) // GUIDs
	Delete(ctx context.Context, guid string) error
}
