package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors of the client.
var (
	// ErrNotLoggedIn is returned by a token source that has neither a usable
	// access token, a refresh token, nor credentials to log in with.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrNoLoginLink is returned when the API root has no links.login.href.
	ErrNoLoginLink = errors.New("api root has no login link")
	// ErrResponseTooLarge is returned when a response body exceeds the
	// client's bound.
	ErrResponseTooLarge = errors.New("response body too large")
	// ErrTooManyPages is returned when a list does not end within the page
	// bound.
	ErrTooManyPages = errors.New("too many pages in list response")
)

// ErrorItem is one entry of the v3 `errors[]` envelope.
type ErrorItem struct {
	Code   int    `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// errorEnvelope is the v3 error body.
type errorEnvelope struct {
	Errors []ErrorItem `json:"errors"`
}

// APIError is an error answered by the Cloud Controller (or a job that
// failed). Its message is the detail, as the cf CLI shows it.
type APIError struct {
	// StatusCode is the HTTP status; 0 for a failed job.
	StatusCode int
	// Code and Title are the CF error code and name (CF-ResourceNotFound).
	Code  int
	Title string
	// Detail is the human message; for a 5xx without an error envelope it
	// is the raw body.
	Detail string
	// Errors holds every item of the envelope (Code/Title/Detail mirror the
	// first one).
	Errors []ErrorItem
}

func (e *APIError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	if e.Title != "" {
		return e.Title
	}
	if e.StatusCode != 0 {
		return fmt.Sprintf("unexpected response %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return "unknown error"
}

// IsNotFound tells whether err is an API 404 (or a lookup by name that
// found nothing).
func IsNotFound(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode == http.StatusNotFound || ae.Title == "CF-ResourceNotFound"
	}
	return false
}

// IsInvalidAuthToken tells whether err is a 401 the token source should
// react to by refreshing.
func IsInvalidAuthToken(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode == http.StatusUnauthorized
	}
	return false
}

// notFound builds the 404 error a lookup by name returns.
func notFound(kind, name string) *APIError {
	return &APIError{
		StatusCode: http.StatusNotFound,
		Code:       10010,
		Title:      "CF-ResourceNotFound",
		Detail:     fmt.Sprintf("%s '%s' not found", kind, name),
	}
}

// decodeAPIError turns an error response into an *APIError.
func decodeAPIError(status int, body []byte) *APIError {
	ae := &APIError{StatusCode: status}
	var env errorEnvelope
	if err := jsonUnmarshal(body, &env); err == nil && len(env.Errors) > 0 {
		ae.Errors = env.Errors
		ae.Code = env.Errors[0].Code
		ae.Title = env.Errors[0].Title
		ae.Detail = env.Errors[0].Detail
		return ae
	}
	// Not an envelope: show the body raw, as the cf CLI does for 5xx.
	ae.Detail = strings.TrimSpace(string(body))
	if len(ae.Detail) > 4096 {
		ae.Detail = ae.Detail[:4096] + "..."
	}
	if ae.Detail == "" {
		ae.Detail = fmt.Sprintf("unexpected response %d %s", status, http.StatusText(status))
	}
	return ae
}

// JobFailedError is returned when a job ends FAILED. Its message is the
// first error's detail; errors.As finds the *APIError inside.
type JobFailedError struct {
	JobGUID string
	Err     *APIError
}

func (e *JobFailedError) Error() string { return e.Err.Error() }
func (e *JobFailedError) Unwrap() error { return e.Err }

// UAAError is an error answered by the token endpoint.
type UAAError struct {
	StatusCode  int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *UAAError) Error() string {
	switch {
	case e.Description != "":
		return e.Description
	case e.Code != "":
		return e.Code
	default:
		return fmt.Sprintf("token request failed with %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
}
