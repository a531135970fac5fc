package ldso

import (
	"os"
	"syscall"
)

func fileID(fi os.FileInfo) FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}
	}
	return FileID{Dev: uint64(st.Dev), Ino: st.Ino}
}

func fileVersion(fi os.FileInfo) Version {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Version{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	}
	return Version{FileID: FileID{Dev: uint64(st.Dev), Ino: st.Ino}, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}
