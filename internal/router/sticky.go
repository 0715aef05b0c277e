package router

import (
	"net/http"
	"slices"
	"time"
)

// stickyFromRequest returns the __VCAP_ID__ a request asks to stick to. As
// in gorouter, it only counts when the request also carries one of the
// sticky session cookies (JSESSIONID by default).
func stickyFromRequest(req *http.Request, names []string) string {
	if len(req.Header["Cookie"]) == 0 {
		return ""
	}
	var vcap string
	sticky := false
	for _, c := range req.Cookies() {
		switch {
		case c.Name == vcapCookie:
			if vcap == "" {
				vcap = c.Value
			}
		case slices.Contains(names, c.Name):
			sticky = true
		}
	}
	if !sticky {
		return ""
	}
	return vcap
}

// setStickyCookie adds Set-Cookie: __VCAP_ID__=<instance id> when the
// backend response sets a sticky session cookie, or when the request asked
// for an instance that is gone so another one served it. It copies
// Expires, Secure, SameSite and Partitioned from the session cookie, and
// MaxAge only when negative. Nothing is added when the endpoint has no
// private_instance_id or the response already sets __VCAP_ID__.
func setStickyCookie(res *http.Response, ep *endpoint, requested, path string, names []string) {
	if ep.instanceID == "" {
		return
	}
	set := requested != "" && requested != ep.instanceID
	if !set && len(res.Header["Set-Cookie"]) == 0 {
		return
	}
	var (
		maxAge      int
		secure      bool
		partitioned bool
		sameSite    http.SameSite
		expires     time.Time
	)
	cookies := res.Cookies()
	for _, c := range cookies {
		if c.Name == vcapCookie {
			return
		}
	}
	for _, c := range cookies {
		if !slices.Contains(names, c.Name) {
			continue
		}
		set = true
		if c.MaxAge < 0 {
			maxAge = c.MaxAge
		}
		secure, sameSite, expires = c.Secure, c.SameSite, c.Expires
		partitioned = c.Partitioned || slices.Contains(c.Unparsed, "Partitioned")
		break
	}
	if !set {
		return
	}
	c := &http.Cookie{
		Name:        vcapCookie,
		Value:       ep.instanceID,
		Path:        path,
		MaxAge:      maxAge,
		HttpOnly:    true,
		Secure:      secure,
		SameSite:    sameSite,
		Expires:     expires,
		Partitioned: partitioned,
	}
	if v := c.String(); v != "" {
		res.Header.Add("Set-Cookie", v)
	}
}
