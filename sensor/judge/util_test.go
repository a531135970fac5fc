package judge

import (
	"fmt"
	"unsafe"
)

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

func sscanRange(line string, s, e *uint64) (int, error) {
	return fmt.Sscanf(line, "%x-%x", s, e)
}
