package messages

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends m as JSON to b, the same document encoding/json
// makes of it (minus HTML escaping, which JSON does not need). Log lines are
// the bus's busiest message, one per routed request: this encodes one
// without reflection or allocation.
func (m *LogLine) AppendJSON(b []byte) []byte {
	b = append(b, `{"app_guid":`...)
	b = appendJSONString(b, m.AppGUID)
	b = append(b, `,"source_type":`...)
	b = appendJSONString(b, m.SourceType)
	b = append(b, `,"instance_id":`...)
	b = appendJSONString(b, m.InstanceID)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, m.Message)
	b = append(b, `,"stream":`...)
	b = appendJSONString(b, m.Stream)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, m.Timestamp, 10)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters are escaped, invalid UTF-8 becomes U+FFFD, and U+2028
// and U+2029 are escaped as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
