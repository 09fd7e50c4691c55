package doctor

import (
	"io/fs"
	"syscall"
)

// statOwner is the owner of fi when the host says.
func statOwner(fi fs.FileInfo) (uint32, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, true
	}
	return 0, false
}
