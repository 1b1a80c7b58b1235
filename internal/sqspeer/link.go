package sqspeer

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
)

// Link is a TCP relay on 127.0.0.1 between a client and the peer that a test
// can cut and restore, like the network between a site and the region. The
// peer keeps its queues and messages meanwhile, as SQS does.
type Link struct {
	t      testing.TB
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

// NewLink relays to the peer; it is closed when the test ends.
func NewLink(t testing.TB, p *Peer) *Link {
	t.Helper()
	l := &Link{t: t, target: fmt.Sprintf("127.0.0.1:%d", p.port), conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("link: %v", err)
	}
	l.addr = ln.Addr().String()
	l.serve(ln)
	t.Cleanup(l.Cut)
	return l
}

// URL is the endpoint through the link.
func (l *Link) URL() string { return "http://" + l.addr }

// Env is the environment a worker process needs to reach the peer through the link.
func (l *Link) Env() []string { return endpointEnv(l.URL()) }

func (l *Link) serve(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go l.relay(c)
		}
	}()
}

func (l *Link) relay(c net.Conn) {
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		c.Close()
		return
	}
	l.mu.Lock()
	if l.ln == nil {
		l.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	l.conns[c], l.conns[up] = true, true
	l.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	l.mu.Lock()
	delete(l.conns, c)
	delete(l.conns, up)
	l.mu.Unlock()
}

// Cut refuses new connections and breaks the open ones.
func (l *Link) Cut() {
	l.mu.Lock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// Restore accepts connections again on the same address.
func (l *Link) Restore() {
	l.t.Helper()
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		l.t.Fatalf("restore link on %s: %v", l.addr, err)
	}
	l.serve(ln)
}
