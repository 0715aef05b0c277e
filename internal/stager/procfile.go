package stager

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrBadProcfile wraps the reasons a Procfile is refused.
var ErrBadProcfile = errors.New("invalid Procfile")

// MaxProcfileBytes bounds the Procfile read from an app.
const MaxProcfileBytes = 64 << 10

// ParseProcfile parses a Procfile: one "<type>: <command>" per line, the
// type made of letters, digits, "_" and "-". Blank lines and lines starting
// with "#" are skipped; any other line that is not a process type is
// refused, as is a type without a command. A later line for the same type
// wins. CRLF line ends and a UTF-8 byte order mark are accepted. A
// command may be written as a YAML-style quoted string ("..." or '...').
func ParseProcfile(data []byte) (map[string]string, error) {
	if len(data) > MaxProcfileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadProcfile, MaxProcfileBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	out := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxProcfileBytes+1)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(s, ":")
		name = strings.TrimSpace(name)
		if !ok || !validProcessType(name) {
			return nil, fmt.Errorf("%w: line %d is not \"<type>: <command>\"", ErrBadProcfile, line)
		}
		cmd = unquoteCommand(strings.TrimSpace(cmd))
		if cmd == "" {
			return nil, fmt.Errorf("%w: line %d: process type %q has no command", ErrBadProcfile, line, name)
		}
		out[name] = cmd
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProcfile, err)
	}
	return out, nil
}

func validProcessType(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// unquoteCommand strips one level of matching YAML-style quotes, as in
// `web: "bundle exec rackup"`.
func unquoteCommand(s string) string {
	if len(s) >= 2 {
		q := s[0]
		if (q == '"' || q == '\'') && s[len(s)-1] == q {
			inner := s[1 : len(s)-1]
			if q == '\'' {
				inner = strings.ReplaceAll(inner, "''", "'")
			} else {
				inner = strings.ReplaceAll(inner, `\"`, `"`)
			}
			return strings.TrimSpace(inner)
		}
	}
	return s
}
