// Package apierr is the Cloud Controller v3 error envelope: every API error
// is an *Error carrying the HTTP status, the CF code and title, and a
// detail string, written as {"errors":[{"code","title","detail"}]}.
package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is one CF API error.
type Error struct {
	Status int    `json:"-"`
	Code   int    `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Title, e.Code, e.Detail)
}

// Envelope is the JSON body of an error response.
type Envelope struct {
	Errors []*Error `json:"errors"`
}

// Write sends e as a CF error response.
func Write(w http.ResponseWriter, e *Error) {
	body, _ := json.Marshal(Envelope{Errors: []*Error{e}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// As returns err as an *Error, or nil when it is not one.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// InvalidAuthToken: the bearer token is malformed, badly signed or expired.
func InvalidAuthToken() *Error {
	return &Error{Status: http.StatusUnauthorized, Code: 1000, Title: "CF-InvalidAuthToken", Detail: "Invalid Auth Token"}
}

// NotAuthenticated: no token was given.
func NotAuthenticated() *Error {
	return &Error{Status: http.StatusUnauthorized, Code: 10002, Title: "CF-NotAuthenticated", Detail: "Authentication error"}
}

// NotAuthorized: the user may not do this.
func NotAuthorized() *Error {
	return &Error{Status: http.StatusForbidden, Code: 10003, Title: "CF-NotAuthorized", Detail: "You are not authorized to perform the requested action"}
}

// UnknownRequest: no such endpoint.
func UnknownRequest() *Error {
	return &Error{Status: http.StatusNotFound, Code: 10000, Title: "CF-NotFound", Detail: "Unknown request"}
}

// NotFound: a named resource does not exist; detail is e.g. "App not found".
func NotFound(resource string) *Error {
	return &Error{Status: http.StatusNotFound, Code: 10010, Title: "CF-ResourceNotFound", Detail: resource + " not found"}
}

// Unprocessable: the request is well-formed but semantically invalid.
func Unprocessable(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: 10008, Title: "CF-UnprocessableEntity", Detail: fmt.Sprintf(format, args...)}
}

// MessageParse: the body is not valid JSON (or YAML).
func MessageParse(reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: 1001, Title: "CF-MessageParseError", Detail: "Request invalid due to parse error: " + reason}
}

// BadQueryParameter: a query parameter is invalid.
func BadQueryParameter(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: 10005, Title: "CF-BadQueryParameter", Detail: "The query parameter is invalid: " + fmt.Sprintf(format, args...)}
}

// InvalidRequest: the request is invalid in a way not covered above.
func InvalidRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: 10004, Title: "CF-InvalidRequest", Detail: fmt.Sprintf(format, args...)}
}

// TooLarge: the request body is over its limit.
func TooLarge(format string, args ...any) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: 10004, Title: "CF-InvalidRequest", Detail: fmt.Sprintf(format, args...)}
}

// ServiceUnavailable: the controller is overloaded or a dependency is down.
func ServiceUnavailable(format string, args ...any) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: 10015, Title: "CF-ServiceUnavailable", Detail: fmt.Sprintf(format, args...)}
}

// Server: an unexpected failure; the detail never leaks internals.
func Server() *Error {
	return &Error{Status: http.StatusInternalServerError, Code: 10001, Title: "CF-ServerError", Detail: "An unknown error occurred."}
}
