package brokerkit

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/ingot-paas/ingot/internal/broker/osb"
)

// Plans are a broker's plans by id.
type Plans[P any] map[string]P

// NewPlans indexes plans by id.
func NewPlans[P any](plans []P, id func(P) string) Plans[P] {
	m := make(Plans[P], len(plans))
	for _, p := range plans {
		m[id(p)] = p
	}
	return m
}

// Get is the plan id, or an osb.ErrBadRequest for an unknown one.
func (m Plans[P]) Get(id string) (P, error) {
	p, ok := m[id]
	if !ok {
		var zero P
		return zero, fmt.Errorf("%w: unknown plan %q", osb.ErrBadRequest, id)
	}
	return p, nil
}

// NoParameters accepts only an empty parameters object.
func NoParameters(raw json.RawMessage) error {
	var none struct{}
	return osb.DecodeParameters(raw, &none)
}

// SQLCredentials are the credentials of a SQL database binding: a URI of
// scheme (with rawQuery), a JDBC URL jdbc:<jdbcDriver>://, and the parts.
func SQLCredentials(scheme, rawQuery, jdbcDriver, host string, port int, database, user, password string) map[string]any {
	hostport := net.JoinHostPort(host, strconv.Itoa(port))
	uri := url.URL{Scheme: scheme, User: url.UserPassword(user, password), Host: hostport, Path: "/" + database, RawQuery: rawQuery}
	jdbc := "jdbc:" + jdbcDriver + "://" + hostport + "/" + database + "?" + url.Values{"user": {user}, "password": {password}}.Encode()
	return map[string]any{
		"uri":      uri.String(),
		"jdbcUrl":  jdbc,
		"hostname": host,
		"port":     port,
		"name":     database,
		"database": database,
		"username": user,
		"password": password,
	}
}
