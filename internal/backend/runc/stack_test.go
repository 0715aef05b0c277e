//go:build linux

package runc

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ingot-paas/ingot/internal/backend"
)

// miniRootfs builds a tiny root file system: sh, cat, sleep and their
// libraries copied from the host, a passwd, group and a marker file. It
// stands in for a debootstrap'd stack.
func miniRootfs(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("ldd not found")
	}
	root := t.TempDir()
	libRE := regexp.MustCompile(`(/\S+) \(0x`)
	copyFile := func(src, dst string, mode os.FileMode) {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	for name, src := range map[string]string{"sh": "/bin/sh", "cat": "/bin/cat", "sleep": "/bin/sleep"} {
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			t.Skipf("no %s: %v", src, err)
		}
		copyFile(real, filepath.Join(root, "bin", name), 0o755)
		out, err := exec.Command("ldd", real).Output()
		if err != nil {
			t.Skipf("ldd %s: %v", real, err)
		}
		for _, m := range libRE.FindAllStringSubmatch(string(out), -1) {
			copyFile(m[1], filepath.Join(root, m[1]), 0o755)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "group"), []byte("root:x:0:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "stack-marker"), []byte("mini stack\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestStackRootfs(t *testing.T) {
	skipUnlessRunc(t)
	cfg := testConfig(t.TempDir())
	cfg.StackRootfs = miniRootfs(t)
	b := newTestBackend(t, cfg)
	t.Cleanup(func() { _ = b.Close() })
	c := mustCreate(t, b, backend.ContainerSpec{Handle: "ministack", DiskLimitBytes: 8 << 20})
	var out syncBuffer
	p, err := c.Run(ctxT(t), backend.ProcessSpec{Path: "sh", Args: []string{"-c",
		`cat /etc/stack-marker; cat /etc/passwd; test -e /usr/bin/python3 && echo host-leak; echo hi > /home/vcap/f && cat /home/vcap/f; echo x > /etc/stack-marker 2>/dev/null || echo read-only`}},
		backend.ProcessIO{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	if code := wait(t, p); code != 0 {
		t.Errorf("exit %d: %s", code, out.String())
	}
	got := out.String()
	for _, want := range []string{"mini stack\n", "root:x:0:0", "vcap:x:", "hi\n", "read-only\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "host-leak") {
		t.Errorf("the host's /usr is visible in a custom stack:\n%s", got)
	}
	if _, err := New(Config{RootDir: t.TempDir(), StackRootfs: t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), "/bin/sh") {
		t.Errorf("New with an empty stack dir = %v", err)
	}
}
