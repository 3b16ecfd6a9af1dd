// Command clib is libgenai-native.so.0, built with -buildmode=c-shared: libconsciousness (the
// init's events, level and services for C programs) and libgenai (chat with the assistant's model)
// in one library, so that a program linking both loads one Go runtime. Two Go c-shared libraries
// in one process would start two runtimes, which Go does not support (each installs its signal
// handlers and thread-local state). The public API is libconsciousness.h and libgenai.h; the
// header cgo generates is internal.
package main

/*
#cgo CFLAGS: -I${SRCDIR}
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"unsafe"
)

func main() {}

// fail records err as the calling thread's last error and returns -1. An exported function runs
// on the C caller's thread, and so does this cgo call, so the thread-local slot is the caller's.
func fail(err error) C.int {
	setError(err)
	return -1
}

func setError(err error) {
	m := C.CString(err.Error())
	C.gn_set_error(m)
	C.free(unsafe.Pointer(m))
}

var errNil = errors.New("NULL handle")

//export consciousness_last_error
func consciousness_last_error() *C.char { return (*C.char)(unsafe.Pointer(C.gn_last_error())) }

//export genai_last_error
func genai_last_error() *C.char { return (*C.char)(unsafe.Pointer(C.gn_last_error())) }

// handleOf returns the Go object behind a C handle (a malloc'd struct holding a cgo.Handle).
func handleOf(h C.size_t) any {
	if h == 0 {
		return nil
	}
	return cgo.Handle(h).Value()
}

//export consciousness_free_string
func consciousness_free_string(s *C.char) { C.free(unsafe.Pointer(s)) }

//export genai_free_string
func genai_free_string(s *C.char) { C.free(unsafe.Pointer(s)) }
