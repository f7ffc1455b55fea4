package collector

import (
	"fmt"
	"io"
	"sync"
)

// progress serialises lines from concurrent lists onto one writer.
type progress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Progress is best effort: a broken terminal must not fail a collection.
	_, _ = fmt.Fprintf(p.w, format+"\n", args...)
}
