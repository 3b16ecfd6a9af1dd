package main

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime/cgo"
	"strconv"
	"sync"
	"unsafe"
)

// conContext is what a consciousness_context_t stands for.
type conContext struct {
	socket string

	mu      sync.Mutex
	cb      C.consciousness_level_cb
	user    unsafe.Pointer
	running bool
	stop    chan struct{} // closed by consciousness_stop; replaced when a loop has consumed it
}

func contextOf(p *C.consciousness_context_t) (*conContext, error) {
	if p == nil {
		return nil, fmt.Errorf("consciousness: %w", errNil)
	}
	c, ok := handleOf(p.handle).(*conContext)
	if !ok {
		return nil, errors.New("consciousness: not a context")
	}
	return c, nil
}

//export consciousness_init
func consciousness_init() *C.consciousness_context_t {
	c := &conContext{socket: socketPath(), stop: make(chan struct{})}
	if _, err := c.level(context.Background()); err != nil {
		setError(fmt.Errorf("consciousness_init: %w", err))
		return nil
	}
	p := (*C.consciousness_context_t)(C.malloc(C.size_t(unsafe.Sizeof(C.consciousness_context_t{}))))
	p.handle = C.size_t(cgo.NewHandle(c))
	return p
}

//export consciousness_free
func consciousness_free(p *C.consciousness_context_t) {
	if p == nil {
		return
	}
	if p.handle != 0 {
		cgo.Handle(p.handle).Delete()
	}
	C.free(unsafe.Pointer(p))
}

//export consciousness_register_callback
func consciousness_register_callback(p *C.consciousness_context_t, cb C.consciousness_level_cb) C.int {
	c, err := contextOf(p)
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	c.cb = cb
	c.mu.Unlock()
	return 0
}

//export consciousness_set_user_data
func consciousness_set_user_data(p *C.consciousness_context_t, data unsafe.Pointer) C.int {
	c, err := contextOf(p)
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	c.user = data
	c.mu.Unlock()
	return 0
}

//export consciousness_user_data
func consciousness_user_data(p *C.consciousness_context_t) unsafe.Pointer {
	c, err := contextOf(p)
	if err != nil {
		setError(err)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

//export consciousness_stop
func consciousness_stop(p *C.consciousness_context_t) C.int {
	c, err := contextOf(p)
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	return 0
}

//export consciousness_main_loop
func consciousness_main_loop(p *C.consciousness_context_t) C.int {
	c, err := contextOf(p)
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return fail(errors.New("consciousness_main_loop: already running on this context"))
	}
	c.running = true
	stop := c.stop
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		select {
		case <-c.stop: // consumed: the next loop runs until the next stop
			c.stop = make(chan struct{})
		default:
		}
		c.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	levels := make(chan float64, 16)
	done := make(chan error, 1)
	go func() { done <- c.events(ctx, levels) }()
	for {
		select {
		case <-stop:
			return 0
		case err := <-done:
			select {
			case <-stop:
				return 0
			default:
			}
			return fail(fmt.Errorf("consciousness_main_loop: %w", err))
		case l := <-levels:
			c.mu.Lock()
			cb := c.cb
			c.mu.Unlock()
			if cb != nil {
				// On this thread: the one that called consciousness_main_loop.
				C.gn_call_level(cb, p, C.double(l))
			}
		}
	}
}

//export consciousness_get_level
func consciousness_get_level(p *C.consciousness_context_t, out *C.double) C.int {
	c, err := contextOf(p)
	if err != nil {
		return fail(err)
	}
	if out == nil {
		return fail(errors.New("consciousness_get_level: NULL output"))
	}
	l, err := c.level(context.Background())
	if err != nil {
		return fail(fmt.Errorf("consciousness_get_level: %w", err))
	}
	*out = C.double(l)
	return 0
}

//export consciousness_service_state
func consciousness_service_state(p *C.consciousness_context_t, name *C.char, out **C.char) C.int {
	c, err := contextOf(p)
	if err != nil {
		return fail(err)
	}
	if name == nil || out == nil {
		return fail(errors.New("consciousness_service_state: NULL argument"))
	}
	st, err := c.services(context.Background(), C.GoString(name))
	if err != nil {
		return fail(fmt.Errorf("consciousness_service_state: %w", err))
	}
	if len(st) != 1 {
		return fail(fmt.Errorf("consciousness_service_state: %s: the init answered %d services", C.GoString(name), len(st)))
	}
	*out = C.CString(st[0].State)
	return 0
}

//export consciousness_services
func consciousness_services(p *C.consciousness_context_t, out **C.consciousness_service_t, count *C.size_t) C.int {
	c, err := contextOf(p)
	if err != nil {
		return fail(err)
	}
	if out == nil || count == nil {
		return fail(errors.New("consciousness_services: NULL output"))
	}
	st, err := c.services(context.Background(), "")
	if err != nil {
		return fail(fmt.Errorf("consciousness_services: %w", err))
	}
	n := len(st)
	size := C.size_t(unsafe.Sizeof(C.consciousness_service_t{}))
	arr := (*C.consciousness_service_t)(C.calloc(C.size_t(max(n, 1)), size))
	list := unsafe.Slice(arr, max(n, 1))
	for i, s := range st {
		list[i] = C.consciousness_service_t{
			name: C.CString(s.Name), state: C.CString(s.State), result: C.CString(s.Result),
			level: C.CString(s.Level), pid: C.int(s.PID), restarts: C.int(s.Restarts),
		}
	}
	*out, *count = arr, C.size_t(n)
	return 0
}

//export consciousness_free_services
func consciousness_free_services(arr *C.consciousness_service_t, count C.size_t) {
	if arr == nil {
		return
	}
	for _, s := range unsafe.Slice(arr, int(count)) {
		for _, str := range []*C.char{s.name, s.state, s.result, s.level} {
			C.free(unsafe.Pointer(str))
		}
	}
	C.free(unsafe.Pointer(arr))
}

// parseLevel reads the init's level ("0.9") as a number.
func parseLevel(s string) (float64, error) {
	l, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("level %q from the init: %w", s, err)
	}
	return l, nil
}
