package auth

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestKeyringAdoptsLegacyKeyRotatesAndRetires(t *testing.T) {
	dir := t.TempDir()
	legacy, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if kr.ActiveKeyID() != KeyID(&legacy.PublicKey) {
		t.Fatal("the legacy key is not the first key")
	}
	clk := newClock()
	kr.now = clk.now
	iss := NewKeyringIssuer(kr, "http://cc/oauth/token", 10*time.Minute, time.Hour)
	iss.SetClock(clk.now)
	old, _ := iss.Issue(Subject{UserID: "u", UserName: "a", Origin: "uaa"}, "password")

	clk.add(time.Minute)
	kid, err := kr.Rotate()
	if err != nil || kid == KeyID(&legacy.PublicKey) {
		t.Fatalf("rotate: %s %v", kid, err)
	}
	fresh, _ := iss.Issue(Subject{UserID: "u", UserName: "a", Origin: "uaa"}, "password")
	for name, tok := range map[string]string{"old": old.AccessToken, "new": fresh.AccessToken} {
		if _, err := iss.Verify(tok, UseAccess); err != nil {
			t.Fatalf("%s token: %v", name, err)
		}
	}
	// Reloading keeps both, the newest active.
	kr2, err := LoadKeyring(dir)
	if err != nil || kr2.ActiveKeyID() != kid || len(kr2.PublicKeys()) != 2 {
		t.Fatalf("reload: %v %s %d", err, kr2.ActiveKeyID(), len(kr2.PublicKeys()))
	}
	// Not retired while its refresh tokens may live; retired after.
	clk.add(30 * time.Minute)
	if removed := kr.Retire(time.Hour); len(removed) != 0 {
		t.Fatalf("retired too early: %v", removed)
	}
	clk.add(31 * time.Minute)
	if removed := kr.Retire(time.Hour); len(removed) != 1 || removed[0] != KeyID(&legacy.PublicKey) {
		t.Fatalf("retired %v", removed)
	}
	if _, err := iss.Verify(old.RefreshToken, UseRefresh); err == nil {
		t.Fatal("a retired key still verifies")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, KeyDir))
	if len(entries) != 1 {
		t.Fatalf("key files after retire: %d", len(entries))
	}
}

func TestKeyringIsBounded(t *testing.T) {
	kr := NewKeyring(key(t))
	for i := 1; i < MaxSigningKeys; i++ {
		kr.keys = append(kr.keys, &signingKey{kid: "k" + string(rune('a'+i)), key: key(t), created: time.Now()})
	}
	if _, err := kr.Rotate(); err != ErrTooManyKeys {
		t.Fatalf("rotate beyond the cap: %v", err)
	}
}

func TestKeyringRejectsMisnamedKeys(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKeyring(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, KeyDir))
	data, _ := os.ReadFile(filepath.Join(dir, KeyDir, entries[0].Name()))
	os.WriteFile(filepath.Join(dir, KeyDir, "123-key-ffffffffffff.pem"), data, 0o600)
	if _, err := LoadKeyring(dir); err == nil {
		t.Fatal("a key whose name does not match its kid was accepted")
	}
}

func TestSCIMFilter(t *testing.T) {
	f, err := parseSCIMFilter(`userName eq "a b" and origin eq "uaa"`)
	if err != nil || *f.userName != "a b" || *f.origin != "uaa" || f.id != nil {
		t.Fatalf("filter: %+v %v", f, err)
	}
	f, err = parseSCIMFilter(`ID Eq "x"`)
	if err != nil || *f.id != "x" {
		t.Fatalf("id filter: %+v %v", f, err)
	}
	for _, bad := range []string{`userName co "a"`, `userName eq a`, `userName eq "a" or origin eq "b"`, `email eq "a"`, `userName eq "a`, `userName`} {
		if _, err := parseSCIMFilter(bad); err == nil {
			t.Errorf("filter %q accepted", bad)
		}
	}
}
