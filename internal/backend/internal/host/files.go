package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"syscall"

	"github.com/ingot-paas/ingot/internal/backend"
)

// MaxDiskWalkEntries bounds one disk measurement; a directory with more
// entries is reported at what was counted so far.
const MaxDiskWalkEntries = 1_000_000

// DirUsage sums the allocated size of everything under dir without
// following symlinks, visiting at most maxEntries entries.
func DirUsage(dir string, maxEntries int) (uint64, error) {
	var total uint64
	n := 0
	errStop := errors.New("stop")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Files come and go while processes run.
			return nil
		}
		n++
		if n > maxEntries {
			return errStop
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += uint64(st.Blocks) * 512
		} else {
			total += uint64(fi.Size())
		}
		return nil
	})
	if err != nil && err != errStop {
		return total, err
	}
	return total, nil
}

// RemoveTree removes dir, making read-only directories writable first when
// a plain RemoveAll fails.
func RemoveTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// WriteJSON writes v, indented, to path atomically (through path.tmp).
func WriteJSON(path string, v any, perm os.FileMode) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// CopyProps copies a container's properties (never nil).
func CopyProps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var handleRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidHandle reports whether h can name a container (and its directory):
// 1-128 letters, digits, '.', '_' or '-', not starting with a punctuation
// mark.
func ValidHandle(h string) bool { return handleRE.MatchString(h) }

// Found is one container directory LoadRecords read.
type Found[R any] struct {
	Dir string
	Rec R
}

// LoadRecords reads rootDir/<handle>/<file> for every directory whose name
// is a valid handle, decoded into R; handle(&rec) must name the directory.
// A directory without the file is handed to missing (which removes it:
// the container was never made); an unreadable or invalid record is
// logged and skipped.
func LoadRecords[R any](rootDir, file string, handle func(*R) string, missing func(name, dir string), log *slog.Logger) ([]Found[R], error) {
	entries, err := os.ReadDir(rootDir)
	if err != nil {
		return nil, fmt.Errorf("read root dir: %w", err)
	}
	var out []Found[R]
	for _, e := range entries {
		if !e.IsDir() || !ValidHandle(e.Name()) {
			continue
		}
		dir := filepath.Join(rootDir, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, fs.ErrNotExist) {
			log.Warn("container-dir-without-record-removed", "handle", e.Name())
			missing(e.Name(), dir)
			continue
		}
		if err != nil {
			log.Warn("container-record-unreadable", "handle", e.Name(), "error", err)
			continue
		}
		var rec R
		if err := json.Unmarshal(data, &rec); err != nil || handle(&rec) != e.Name() {
			log.Warn("container-record-invalid", "handle", e.Name(), "error", err)
			continue
		}
		out = append(out, Found[R]{Dir: dir, Rec: rec})
	}
	return out, nil
}

// CheckSpec checks what every backend requires of a container spec: a
// valid handle (else invalid, the backend's sentinel) and limits within
// the backend's capacity (else backend.ErrNoCapacity).
func CheckSpec(spec backend.ContainerSpec, capacity backend.Capacity, invalid error) error {
	if !ValidHandle(spec.Handle) {
		return fmt.Errorf("%w: handle %q must be 1-128 letters, digits, '.', '_' or '-'", invalid, spec.Handle)
	}
	if spec.MemoryLimitBytes > capacity.MemoryBytes {
		return fmt.Errorf("%w: memory limit %d bytes exceeds capacity %d", backend.ErrNoCapacity, spec.MemoryLimitBytes, capacity.MemoryBytes)
	}
	if spec.DiskLimitBytes > capacity.DiskBytes {
		return fmt.Errorf("%w: disk limit %d bytes exceeds capacity %d", backend.ErrNoCapacity, spec.DiskLimitBytes, capacity.DiskBytes)
	}
	return nil
}

// Capacity fills in the host's resources where memory or disk is 0: its
// MemTotal, and the space free for unprivileged users on rootDir's file
// system.
func Capacity(rootDir string, memory, disk uint64) (uint64, uint64, error) {
	if memory == 0 {
		m, err := MemTotal()
		if err != nil {
			return 0, 0, fmt.Errorf("memory capacity: %w", err)
		}
		memory = m
	}
	if disk == 0 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(rootDir, &st); err != nil {
			return 0, 0, fmt.Errorf("statfs %s: %w", rootDir, err)
		}
		disk = st.Bavail * uint64(st.Bsize)
	}
	return memory, disk, nil
}
