//go:build unix

package builtin

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockBinDir takes an exclusive advisory lock on the plugin bin directory
// for the whole check-and-build, so that concurrent yoloforge processes
// (go test runs packages in parallel) never see a binary that another has
// just replaced before writing its manifest: the second waits, then finds
// everything fresh.
func lockBinDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
