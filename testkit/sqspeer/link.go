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
// peer keeps its queues and messages meanwhile, as SQS does. The link keeps
// its port while cut (it closes what it accepts), so nothing else can take
// the port before Restore.
type Link struct {
	target string
	ln     net.Listener
	mu     sync.Mutex
	cut    bool
	// frozen: connections are accepted and never answered (a link that
	// drops packets instead of refusing).
	frozen bool
	held   []net.Conn
	conns  map[net.Conn]bool
	// relays counts the goroutines that serve the link, so Close can wait
	// for them: none outlives its test.
	relays sync.WaitGroup
}

// NewLink relays to the peer; it is closed when the test ends.
func NewLink(t testing.TB, p *Peer) *Link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("link: %v", err)
	}
	l := &Link{target: fmt.Sprintf("127.0.0.1:%d", p.port), ln: ln, conns: map[net.Conn]bool{}}
	l.relays.Add(1)
	go l.accept()
	t.Cleanup(l.close)
	return l
}

// URL is the endpoint through the link.
func (l *Link) URL() string { return "http://" + l.ln.Addr().String() }

// Env is the environment a worker process needs to reach the peer through the link.
func (l *Link) Env() []string { return endpointEnv(l.URL()) }

func (l *Link) accept() {
	defer l.relays.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.frozen {
			l.held = append(l.held, c)
			l.mu.Unlock()
			continue
		}
		if l.cut {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[c] = true
		l.relays.Add(1)
		l.mu.Unlock()
		go l.relay(c)
	}
}

func (l *Link) relay(c net.Conn) {
	defer l.relays.Done()
	defer l.forget(c)
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		return
	}
	l.mu.Lock()
	if l.cut || !l.conns[c] {
		l.mu.Unlock()
		up.Close()
		return
	}
	l.conns[up] = true
	l.mu.Unlock()
	defer l.forget(up)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

func (l *Link) forget(c net.Conn) {
	c.Close()
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// Cut refuses new connections (each is closed at once) and breaks the open ones.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = true
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
}

// Freeze breaks the open connections and holds every new one open without
// an answer: requests hang until their caller gives up, as over a link that
// drops packets.
func (l *Link) Freeze() {
	l.Cut()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.frozen = true
}

// Restore relays new connections again (after Cut or Freeze).
func (l *Link) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut, l.frozen = false, false
	for _, c := range l.held {
		c.Close()
	}
	l.held = nil
}

// close cuts the link for good and waits for every goroutine it started.
func (l *Link) close() {
	l.Restore()
	l.Cut()
	l.ln.Close()
	l.relays.Wait()
}
