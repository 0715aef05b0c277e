package messages

import (
	"encoding/json"
	"testing"
)

func TestLogLineAppendJSONMatchesEncodingJSON(t *testing.T) {
	lines := []LogLine{
		{AppGUID: "a", SourceType: "RTR", InstanceID: "0", Message: `GET / "quoted" \back`, Stream: "OUT", Timestamp: 1795542943000000000},
		{AppGUID: "a", SourceType: "APP/PROC/WEB", InstanceID: "12", Message: "tab\tnl\ncr\r\x00\x1f bell\x07", Stream: "ERR", Timestamp: -5},
		{AppGUID: "a", SourceType: "STG", Message: "héllo ✓ \u2028 \u2029 \xff\xfe end", Stream: "OUT"},
		{},
	}
	for _, l := range lines {
		got := l.AppendJSON(nil)
		var back LogLine
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendJSON(%+v) = %s: not JSON: %v", l, got, err)
		}
		want, _ := json.Marshal(&l)
		var viaStd LogLine
		_ = json.Unmarshal(want, &viaStd)
		if back != viaStd {
			t.Fatalf("AppendJSON decodes to %+v, encoding/json's to %+v", back, viaStd)
		}
	}
}

func TestLogLineAppendJSONDoesNotAllocate(t *testing.T) {
	l := LogLine{AppGUID: "app", SourceType: "RTR", InstanceID: "0", Message: "GET / 200 \"ok\"", Stream: "OUT", Timestamp: 1}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = l.AppendJSON(buf[:0]) }); n != 0 {
		t.Fatalf("AppendJSON allocates %v times", n)
	}
}

// FuzzLogLineAppendJSON: whatever the strings, the encoding is JSON that
// decodes to what encoding/json's does.
func FuzzLogLineAppendJSON(f *testing.F) {
	f.Add("app", "RTR", "0", "GET / \"x\"\n\xff", int64(7))
	f.Fuzz(func(t *testing.T, app, src, inst, msg string, ts int64) {
		l := LogLine{AppGUID: app, SourceType: src, InstanceID: inst, Message: msg, Stream: "OUT", Timestamp: ts}
		var back, viaStd LogLine
		if err := json.Unmarshal(l.AppendJSON(nil), &back); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		std, _ := json.Marshal(&l)
		_ = json.Unmarshal(std, &viaStd)
		if back != viaStd {
			t.Fatalf("decodes to %+v, encoding/json's to %+v", back, viaStd)
		}
	})
}

func BenchmarkLogLineJSON(b *testing.B) {
	l := LogLine{AppGUID: "6b19f472-6177-4098-ba03-d5704533cee0", SourceType: "RTR", InstanceID: "0", Stream: "OUT", Timestamp: 1795542943000000000,
		Message: `web.apps.test - [2026-11-24T22:20:53.731966336Z] "GET / HTTP/1.1" 200 0 3 "-" "curl/7.88.1" "127.0.0.1:44144" "127.0.0.1:61017" x_forwarded_for:"127.0.0.1"`}
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = l.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&l)
		}
	})
}
