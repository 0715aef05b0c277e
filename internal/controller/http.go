package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ingot-paas/ingot/internal/controller/apierr"
	"github.com/ingot-paas/ingot/internal/controller/auth"
)

// apiHandler handles one API request; a returned *apierr.Error is written
// as a CF error, any other error as a 500.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

type authMode int

const (
	authNone   authMode = iota // root, /login, /oauth/token
	authBearer                 // /v3/*, log-cache: a valid access token
	authSigned                 // /internal/v1/*: a valid URL signature
)

// maxJSONBody bounds JSON and YAML request bodies.
const maxJSONBody = 1 << 20

func (c *Controller) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, mode authMode, f apiHandler) {
		if mode == authBearer {
			f = c.guard(pattern, f) // routeRules (permissions.go)
		}
		mux.Handle(pattern, c.wrap(mode, f))
	}

	// Root, UAA and log-cache.
	h("GET /{$}", authNone, c.getRoot)
	mux.HandleFunc("GET /login", c.uaa.Login)
	mux.HandleFunc("POST /oauth/token", c.uaa.Token)
	mux.HandleFunc("GET /token_keys", c.uaa.TokenKeys)
	c.uaaRoutes(mux)
	h("GET /api/v1/info", authBearer, c.getLogCacheInfo)
	h("GET /api/v1/read/{source_id}", authBearer, c.readLogCache)

	h("GET /v3", authBearer, c.getV3Root)
	h("GET /v3/{$}", authBearer, c.getV3Root)
	h("GET /v3/info", authBearer, c.getInfo)

	// Orgs, spaces, domains, roles.
	h("GET /v3/organizations", authBearer, c.listOrgs)
	h("POST /v3/organizations", authBearer, c.createOrg)
	h("GET /v3/organizations/{guid}", authBearer, c.getOrg)
	h("PATCH /v3/organizations/{guid}", authBearer, c.updateOrg)
	h("DELETE /v3/organizations/{guid}", authBearer, c.deleteOrg)
	h("GET /v3/organizations/{guid}/domains", authBearer, c.listOrgDomains)
	h("GET /v3/organizations/{guid}/domains/default", authBearer, c.getOrgDefaultDomain)
	h("GET /v3/spaces", authBearer, c.listSpaces)
	h("POST /v3/spaces", authBearer, c.createSpace)
	h("GET /v3/spaces/{guid}", authBearer, c.getSpace)
	h("PATCH /v3/spaces/{guid}", authBearer, c.updateSpace)
	h("DELETE /v3/spaces/{guid}", authBearer, c.deleteSpace)
	h("POST /v3/spaces/{guid}/actions/apply_manifest", authBearer, c.applyManifest)
	h("POST /v3/spaces/{guid}/manifest_diff", authBearer, c.manifestDiff)
	h("GET /v3/domains", authBearer, c.listDomains)
	h("GET /v3/domains/{guid}", authBearer, c.getDomain)
	h("POST /v3/domains", authBearer, c.createDomain)
	h("DELETE /v3/domains/{guid}", authBearer, c.deleteDomain)
	h("POST /v3/users", authBearer, c.createUser)
	h("DELETE /v3/users/{guid}", authBearer, c.deleteUser)

	// Apps.
	h("GET /v3/apps", authBearer, c.listApps)
	h("POST /v3/apps", authBearer, c.createApp)
	h("GET /v3/apps/{guid}", authBearer, c.getApp)
	h("PATCH /v3/apps/{guid}", authBearer, c.updateApp)
	h("DELETE /v3/apps/{guid}", authBearer, c.deleteApp)
	h("GET /v3/apps/{guid}/env", authBearer, c.getAppEnv)
	h("GET /v3/apps/{guid}/environment_variables", authBearer, c.getAppEnvVars)
	h("PATCH /v3/apps/{guid}/environment_variables", authBearer, c.patchAppEnvVars)
	h("POST /v3/apps/{guid}/actions/start", authBearer, c.startApp)
	h("POST /v3/apps/{guid}/actions/stop", authBearer, c.stopApp)
	h("POST /v3/apps/{guid}/actions/restart", authBearer, c.restartApp)
	h("GET /v3/apps/{guid}/droplets/current", authBearer, c.getCurrentDroplet)
	h("GET /v3/apps/{guid}/relationships/current_droplet", authBearer, c.getCurrentDropletRel)
	h("PATCH /v3/apps/{guid}/relationships/current_droplet", authBearer, c.setCurrentDroplet)
	h("GET /v3/apps/{guid}/processes", authBearer, c.listAppProcesses)
	h("GET /v3/apps/{guid}/processes/{type}", authBearer, c.getAppProcess)
	h("GET /v3/apps/{guid}/processes/{type}/stats", authBearer, c.getAppProcessStats)
	h("POST /v3/apps/{guid}/processes/{type}/actions/scale", authBearer, c.scaleAppProcess)
	h("GET /v3/apps/{guid}/routes", authBearer, c.listAppRoutes)
	h("GET /v3/apps/{guid}/packages", authBearer, c.listAppPackages)
	h("GET /v3/apps/{guid}/droplets", authBearer, c.listAppDroplets)
	h("GET /v3/apps/{guid}/builds", authBearer, c.listAppBuilds)

	// Processes.
	h("GET /v3/processes", authBearer, c.listProcesses)
	h("GET /v3/processes/{guid}", authBearer, c.getProcess)
	h("PATCH /v3/processes/{guid}", authBearer, c.updateProcess)
	h("POST /v3/processes/{guid}/actions/scale", authBearer, c.scaleProcess)
	h("GET /v3/processes/{guid}/stats", authBearer, c.getProcessStats)
	h("GET /v3/processes/{guid}/sidecars", authBearer, c.listProcessSidecars)
	h("GET /v3/deployments", authBearer, c.listDeployments)
	h("POST /v3/deployments", authBearer, c.createDeployment)
	h("GET /v3/deployments/{guid}", authBearer, c.getDeployment)
	h("POST /v3/deployments/{guid}/actions/cancel", authBearer, c.cancelDeployment)
	h("GET /v3/service_route_bindings", authBearer, c.listRouteBindings)

	// Packages, builds, droplets.
	h("POST /v3/packages", authBearer, c.createPackage)
	h("GET /v3/packages", authBearer, c.listPackages)
	h("GET /v3/packages/{guid}", authBearer, c.getPackage)
	h("POST /v3/packages/{guid}/upload", authBearer, c.uploadPackage)
	h("GET /v3/packages/{guid}/download", authBearer, c.downloadPackage)
	h("GET /v3/packages/{guid}/droplets", authBearer, c.listPackageDroplets)
	h("POST /v3/resource_matches", authBearer, c.resourceMatches)
	h("POST /v3/builds", authBearer, c.createBuild)
	h("GET /v3/builds", authBearer, c.listBuilds)
	h("GET /v3/builds/{guid}", authBearer, c.getBuild)
	h("GET /v3/droplets", authBearer, c.listDroplets)
	h("GET /v3/droplets/{guid}", authBearer, c.getDroplet)
	h("GET /v3/droplets/{guid}/download", authBearer, c.downloadDroplet)

	// Routes.
	h("GET /v3/routes", authBearer, c.listRoutes)
	h("POST /v3/routes", authBearer, c.createRoute)
	h("GET /v3/routes/{guid}", authBearer, c.getRoute)
	h("DELETE /v3/routes/{guid}", authBearer, c.deleteRoute)
	h("GET /v3/routes/{guid}/destinations", authBearer, c.listRouteDestinations)
	h("POST /v3/routes/{guid}/destinations", authBearer, c.addRouteDestinations)
	h("PATCH /v3/routes/{guid}/destinations", authBearer, c.replaceRouteDestinations)
	h("DELETE /v3/routes/{guid}/destinations/{dest}", authBearer, c.deleteRouteDestination)

	// Services.
	c.serviceRoutes(h)

	// Roles, users, quotas, audit events.
	c.tenancyRoutes(h)

	// Jobs.
	h("GET /v3/jobs/{guid}", authBearer, c.getJob)

	// Blobs for DEAs and stagers, authenticated by signature.
	h("GET /internal/v1/packages/{guid}", authSigned, c.internalGetPackage)
	h("GET /internal/v1/droplets/{guid}", authSigned, c.internalGetDroplet)
	h("PUT /internal/v1/droplets/{guid}", authSigned, c.internalPutDroplet)
	h("GET /internal/v1/buildpack_cache/{guid}", authSigned, c.internalGetCache)
	h("PUT /internal/v1/buildpack_cache/{guid}", authSigned, c.internalPutCache)

	h("/", authNone, func(w http.ResponseWriter, r *http.Request) error { return apierr.UnknownRequest() })
	return c.recoverer(mux)
}

type userKey struct{}

// currentUser is the authenticated caller.
type currentUser struct {
	GUID   string
	Name   string
	Origin string
	Admin  bool
}

func userFrom(ctx context.Context) *currentUser {
	u, _ := ctx.Value(userKey{}).(*currentUser)
	if u == nil {
		return &currentUser{}
	}
	return u
}

func (c *Controller) wrap(mode authMode, f apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case authBearer:
			u, aerr := c.authenticate(r)
			if aerr != nil {
				apierr.Write(w, aerr)
				return
			}
			ctx := context.WithValue(r.Context(), userKey{}, u)
			ctx = context.WithValue(ctx, authzKey{}, newAuthorizer(c.deps.Store, u))
			r = r.WithContext(ctx)
		case authSigned:
			if err := c.verifySignature(r.Method, r.URL.Path, r.URL.Query(), time.Now()); err != nil {
				c.log.Info("blob-url-rejected", "path", r.URL.Path, "error", err)
				http.Error(w, "invalid or expired signature", http.StatusForbidden)
				return
			}
		}
		if err := f(w, r); err != nil {
			c.writeError(w, r, err)
		}
	})
}

func (c *Controller) authenticate(r *http.Request) (*currentUser, *apierr.Error) {
	tok, present := auth.BearerToken(r.Header.Get("Authorization"))
	if !present {
		return nil, apierr.NotAuthenticated()
	}
	if tok == "" {
		return nil, apierr.InvalidAuthToken()
	}
	claims, err := c.uaa.VerifyAccess(r.Context(), tok)
	if err != nil {
		if !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrExpiredToken) && !errors.Is(err, auth.ErrRevoked) {
			c.log.Error("auth-verify-failed", "error", err)
			return nil, apierr.Server()
		}
		return nil, apierr.InvalidAuthToken()
	}
	return userFromClaims(claims), nil
}

func (c *Controller) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if e := apierr.As(err); e != nil {
		apierr.Write(w, e)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		apierr.Write(w, apierr.TooLarge("The request body is larger than %d bytes", mbe.Limit))
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	c.log.Error("api-request-failed", "method", r.Method, "path", r.URL.Path, "error", err)
	apierr.Write(w, apierr.Server())
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// recoverer turns panics into 500s and logs every request at debug level.
func (c *Controller) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		defer func() {
			c.log.Debug("api-request", "method", r.Method, "path", r.URL.Path, "status", w.status, "duration_ms", time.Since(start).Milliseconds())
		}()
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.log.Error("api-panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				apierr.Write(w, apierr.Server())
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// readBody reads a bounded request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apierr.TooLarge("The request body is larger than %d bytes", mbe.Limit)
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	return data, nil
}

// decodeJSON reads a bounded JSON body into v. An empty body leaves v
// untouched. Syntax errors are 400s; type errors are 422s naming the field.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				return apierr.Unprocessable("The request body must be a JSON object")
			}
			return apierr.Unprocessable("%s must be a %s", fieldLabel(field), jsonTypeName(te.Type.Kind().String()))
		}
		return apierr.MessageParse("invalid request body")
	}
	return nil
}

// fieldLabel turns "relationships.space.data.guid" into a CF-style label.
func fieldLabel(f string) string {
	if f == "" {
		return "Field"
	}
	return strings.ToUpper(f[:1]) + f[1:]
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "number"
	}
	return kind
}
