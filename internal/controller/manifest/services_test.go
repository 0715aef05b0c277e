package manifest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseServices(t *testing.T) {
	m, err := Parse([]byte(`applications:
- name: a
  services:
  - db
  - name: cache
    binding_name: c1
    parameters:
      role: ro
      n: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []ServiceBinding{{Name: "db"}, {Name: "cache", BindingName: "c1", Parameters: map[string]any{"role": "ro", "n": 2}}}
	if got := m.Applications[0].Services; !reflect.DeepEqual(got, want) {
		t.Fatalf("services = %#v", got)
	}
	if len(m.Applications[0].Unsupported) != 0 {
		t.Fatalf("services reported unsupported: %v", m.Applications[0].Unsupported)
	}
	bad := []struct{ yaml, want string }{
		{"applications:\n- name: a\n  services: db\n", "must be a list"},
		{"applications:\n- name: a\n  services: [db, db]\n", "listed twice"},
		{"applications:\n- name: a\n  services: [{binding_name: x}]\n", "name is required"},
		{"applications:\n- name: a\n  services: [{name: x, parameters: [1]}]\n", "must be a mapping"},
	}
	for _, tc := range bad {
		if _, err := Parse([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
