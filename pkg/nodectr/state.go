package nodectr

import (
	"fmt"
	"os"
	"strconv"
)

// WriteFileAtomic writes a file (a container's state, RUN/NAME.json)
// whole or not at all: to a temporary name first, then renamed.
func WriteFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
