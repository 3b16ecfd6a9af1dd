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
	"sync"
	"unsafe"
)

// session is what a genai_session_t stands for.
type session struct {
	mu      sync.Mutex // serialises calls on the session
	client  chatClient
	cfg     config
	con     *conContext // may be nil
	history []message
}

var errStopped = errors.New("stopped by callback")

func sessionOf(p *C.genai_session_t) (*session, error) {
	if p == nil {
		return nil, fmt.Errorf("genai: %w", errNil)
	}
	s, ok := handleOf(p.handle).(*session)
	if !ok {
		return nil, errors.New("genai: not a session")
	}
	return s, nil
}

//export genai_create_session
func genai_create_session(ctx *C.consciousness_context_t) *C.genai_session_t {
	cfg, err := loadConfig()
	if err != nil {
		setError(fmt.Errorf("genai_create_session: %w", err))
		return nil
	}
	s := &session{client: newHTTPClient(), cfg: cfg}
	if ctx != nil {
		if s.con, err = contextOf(ctx); err != nil {
			setError(fmt.Errorf("genai_create_session: %w", err))
			return nil
		}
	}
	p := (*C.genai_session_t)(C.malloc(C.size_t(unsafe.Sizeof(C.genai_session_t{}))))
	p.handle = C.size_t(cgo.NewHandle(s))
	return p
}

//export genai_free_session
func genai_free_session(p *C.genai_session_t) {
	if p == nil {
		return
	}
	if p.handle != 0 {
		cgo.Handle(p.handle).Delete()
	}
	C.free(unsafe.Pointer(p))
}

// setField sets a configuration string of the session: v, or the configured value for NULL.
func setField(p *C.genai_session_t, v *C.char, field func(*config) *string) C.int {
	s, err := sessionOf(p)
	if err != nil {
		return fail(err)
	}
	val := ""
	if v == nil {
		cfg, err := loadConfig()
		if err != nil {
			return fail(err)
		}
		val = *field(&cfg)
	} else {
		val = C.GoString(v)
	}
	s.mu.Lock()
	*field(&s.cfg) = val
	s.mu.Unlock()
	return 0
}

//export genai_set_ai_model
func genai_set_ai_model(p *C.genai_session_t, model *C.char) C.int {
	return setField(p, model, func(c *config) *string { return &c.Model })
}

//export genai_set_endpoint
func genai_set_endpoint(p *C.genai_session_t, url *C.char) C.int {
	return setField(p, url, func(c *config) *string { return &c.Endpoint })
}

//export genai_reset
func genai_reset(p *C.genai_session_t) C.int {
	s, err := sessionOf(p)
	if err != nil {
		return fail(err)
	}
	s.mu.Lock()
	s.history = nil
	s.mu.Unlock()
	return 0
}

// ask sends prompt after the history; on success both join it.
func (s *session) ask(prompt string, onChunk func(string) error) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	var msgs []message
	if s.con != nil {
		if l, err := s.con.level(ctx); err == nil {
			msgs = append(msgs, message{Role: "system", Content: fmt.Sprintf("You answer a program running on GenAI OS at consciousness level %g.", l)})
		}
	}
	msgs = append(msgs, s.history...)
	msgs = append(msgs, message{Role: "user", Content: prompt})
	answer, err := s.client.Chat(ctx, s.cfg, msgs, onChunk)
	if err != nil {
		return "", err
	}
	s.history = append(s.history, message{Role: "user", Content: prompt}, message{Role: "assistant", Content: answer})
	return answer, nil
}

//export genai_chat
func genai_chat(p *C.genai_session_t, prompt *C.char, reply **C.char) C.int {
	s, err := sessionOf(p)
	if err != nil {
		return fail(err)
	}
	if prompt == nil || reply == nil {
		return fail(errors.New("genai_chat: NULL argument"))
	}
	answer, err := s.ask(C.GoString(prompt), nil)
	if err != nil {
		return fail(fmt.Errorf("genai_chat: %w", err))
	}
	*reply = C.CString(answer)
	return 0
}

//export genai_chat_stream
func genai_chat_stream(p *C.genai_session_t, prompt *C.char, cb C.genai_stream_cb, user unsafe.Pointer) C.int {
	s, err := sessionOf(p)
	if err != nil {
		return fail(err)
	}
	if prompt == nil || cb == nil {
		return fail(errors.New("genai_chat_stream: NULL argument"))
	}
	// The chunks are handed to cb here, on the caller's thread: the HTTP client reads in its own
	// goroutines, but onChunk runs in this one.
	_, err = s.ask(C.GoString(prompt), func(chunk string) error {
		cs := C.CString(chunk)
		defer C.free(unsafe.Pointer(cs))
		if C.gn_call_chunk(cb, cs, user) != 0 {
			return errStopped
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("genai_chat_stream: %w", err))
	}
	return 0
}
