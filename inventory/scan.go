package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// scanner splits a stream of JSON text into values without decoding them:
// it finds where each value ends (strings, escapes and nesting) and hands
// out its bytes, several times faster than encoding/json's Decoder, which
// runs its full state machine to do the same. It does not validate what
// it hands out: every value it returns is decoded (and so checked) by
// encoding/json later.
type scanner struct {
	r   io.Reader
	buf []byte
	pos int
	off int64 // input offset of buf[0], for error messages
	err error // the reader's error, io.EOF at the end
	// names and metaNames are the member names item has seen in the
	// object it is scanning and in its metadata.
	names, metaNames []memberName
	// arena is where take copies values to: one allocation for many
	// small items rather than one each.
	arena []byte
}

// arenaChunk is the size of one arena; a value above a quarter of it gets
// its own allocation.
const arenaChunk = 256 << 10

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, 0, 256<<10)}
}

// fill reads more input, keeping buf[pos:]; false when there is none.
func (s *scanner) fill() bool {
	if s.err != nil {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:])
		s.off += int64(s.pos)
		s.buf, s.pos = s.buf[:n], 0
	}
	if len(s.buf) == cap(s.buf) {
		nb := make([]byte, len(s.buf), 2*cap(s.buf))
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err != nil {
		s.err = err
	}
	return n > 0 || err == nil
}

// peek skips white space and returns the next byte, unread; io.EOF at the
// end of the input.
func (s *scanner) peek() (byte, error) {
	for {
		for s.pos < len(s.buf) {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, nil
			}
		}
		if !s.fill() {
			return 0, s.endErr()
		}
	}
}

func (s *scanner) endErr() error {
	if s.err == nil || errors.Is(s.err, io.EOF) {
		return io.EOF
	}
	return s.err
}

// syntax is a syntax error at the current position.
func (s *scanner) syntax(msg string) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.off+int64(s.pos), msg)
}

// expect consumes the byte c after white space.
func (s *scanner) expect(c byte) error {
	got, err := s.peek()
	if err != nil {
		return unexpectedEOF(err)
	}
	if got != c {
		return s.syntax(fmt.Sprintf("want %q, got %q", c, got))
	}
	s.pos++
	return nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// value returns a copy of the next JSON value's bytes.
func (s *scanner) value() (json.RawMessage, error) {
	first, err := s.peek()
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	start := s.pos
	i := start // relative to buf; buf may move while filling
	depth := 0
	inString, escaped := false, false
	switch first {
	case '{', '[':
	case '"':
	case '}', ']', ',', ':':
		return nil, s.syntax(fmt.Sprintf("unexpected %q", first))
	default:
		// A literal: up to the next delimiter.
		for {
			for ; i < len(s.buf); i++ {
				switch s.buf[i] {
				case ',', '}', ']', ' ', '\t', '\n', '\r':
					return s.take(start, i), nil
				}
			}
			base := s.pos
			if !s.fill() {
				return s.take(start-base+s.pos, i-base+s.pos), nil // the input ends with the literal
			}
			start, i = start-base+s.pos, i-base+s.pos
		}
	}
	for {
		for ; i < len(s.buf); i++ {
			c := s.buf[i]
			if escaped {
				escaped = false
				continue
			}
			if inString {
				// Plain string content, most of the bytes, in a tight loop.
				for !stringStop[c] {
					if i++; i == len(s.buf) {
						break
					}
					c = s.buf[i]
				}
				switch {
				case i == len(s.buf):
					i-- // fill, then look at the next byte
				case c == '\\':
					escaped = true
				default: // the closing quote
					inString = false
					if depth == 0 {
						return s.take(start, i+1), nil
					}
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return s.take(start, i+1), nil
				}
				if depth < 0 {
					return nil, s.syntax("unbalanced brackets")
				}
			}
		}
		base := s.pos
		if !s.fill() {
			return nil, unexpectedEOF(s.endErr())
		}
		start, i = start-base+s.pos, i-base+s.pos
	}
}

// item is value for an element of a list of objects. It also refuses an
// object whose members, or whose metadata's members, repeat a name
// (checkDuplicates), found in the same pass that finds the item's end:
// walking every item a second time cost about 5% of reading a snapshot.
// Strings, most of an object's bytes, are skipped by a tighter loop than
// value's, which pays for the names.
func (s *scanner) item() (json.RawMessage, error) {
	first, err := s.peek()
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	if first != '{' {
		return s.value()
	}
	start := s.pos
	i := start + 1 // relative to buf; buf may move while filling
	depth := 1
	inString := false
	// The last string closed where names are (strEnd -1 when none since),
	// and whether the metadata object is the one open, or next.
	strStart, strEnd := -1, -1
	inMeta, metaNext := false, false
	s.names, s.metaNames = s.names[:0], s.metaNames[:0]
	for {
		buf := s.buf
		for i < len(buf) {
			c := buf[i]
			if inString {
				for !stringStop[c] {
					if i++; i == len(buf) {
						break
					}
					c = buf[i]
				}
				if i >= len(buf) {
					break
				}
				if c == '\\' {
					i += 2 // and the escaped byte, even past the buffer's end
					continue
				}
				inString = false
				if depth == 1 || (depth == 2 && inMeta) {
					strEnd = i - start
				}
				i++
				continue
			}
			switch c {
			case '"':
				inString = true
				strStart, strEnd = i-start, -1
			case ':':
				// A colon right after a string where names are: a member.
				if strEnd >= 0 {
					name := memberName{strStart + 1, strEnd}
					if err := s.member(start, depth == 1, name); err != nil {
						return nil, err
					}
					metaNext = depth == 1 && sameField(buf[start+name.from:start+name.to], []byte("metadata"))
					strEnd = -1
				}
			case ',':
				strEnd, metaNext = -1, false
			case '{', '[':
				depth++
				if depth == 2 {
					inMeta = metaNext && c == '{'
				}
				metaNext, strEnd = false, -1
			case '}', ']':
				depth--
				if depth == 0 {
					return s.take(start, i+1), nil
				}
				if depth == 1 {
					inMeta = false
				}
				strEnd = -1
			}
			i++
		}
		base := s.pos
		if !s.fill() {
			return nil, unexpectedEOF(s.endErr())
		}
		start, i = start-base+s.pos, i-base+s.pos
	}
}

// stringStop marks the bytes that end a run of plain string content.
var stringStop = [256]bool{'"': true, '\\': true}

// memberName is where a member's name lies in the item being scanned:
// between the quotes, as offsets from the item's start (buf moves while
// filling; the item's bytes stay together).
type memberName struct{ from, to int }

// member records one member's name of the value at start (top: of the
// object itself, else of its metadata), refusing one encoding/json would
// take for an earlier one.
func (s *scanner) member(start int, top bool, name memberName) error {
	seen := &s.metaNames
	if top {
		seen = &s.names
	}
	b := s.buf[start+name.from : start+name.to]
	for _, prev := range *seen {
		if p := s.buf[start+prev.from : start+prev.to]; sameField(p, b) {
			return &errDuplicate{first: unquote(p), again: unquote(b)}
		}
	}
	*seen = append(*seen, name)
	return nil
}

// take copies buf[start:end] and consumes it. Small values share an
// arena: a snapshot's 300,000 items, 500 bytes each, are then 600 arenas
// (each freed when its last value is dropped, once decoded).
func (s *scanner) take(start, end int) json.RawMessage {
	s.pos = end
	n := end - start
	if n > arenaChunk/4 {
		// append, not make and copy: the copy is not cleared first.
		return append(json.RawMessage(nil), s.buf[start:end]...)
	}
	if n > cap(s.arena)-len(s.arena) {
		s.arena = make([]byte, 0, arenaChunk)
	}
	a := len(s.arena)
	s.arena = append(s.arena, s.buf[start:end]...)
	// Capped: who appends to a value must not write over the next one.
	return s.arena[a:len(s.arena):len(s.arena)]
}

// key reads an object member's name and the colon after it.
func (s *scanner) key() (string, error) {
	raw, err := s.value()
	if err != nil {
		return "", err
	}
	var k string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &k) != nil {
		return "", s.syntax("object member name is not a string")
	}
	return k, s.expect(':')
}

// next consumes what follows a member or element: a comma (true) or the
// closing byte (false).
func (s *scanner) next(closing byte) (bool, error) {
	c, err := s.peek()
	if err != nil {
		return false, unexpectedEOF(err)
	}
	switch c {
	case ',':
		s.pos++
		return true, nil
	case closing:
		s.pos++
		return false, nil
	}
	return false, s.syntax(fmt.Sprintf("want ',' or %q, got %q", closing, c))
}

// elements calls fn on each element of the array at the scanner's
// position (null is an empty array), stopping at fn's first error. An
// element that is an object whose member names repeat is an error
// (scanner.item), naming the element.
func (s *scanner) elements(fn func(json.RawMessage) error) error {
	c, err := s.peek()
	if err != nil {
		return unexpectedEOF(err)
	}
	if c != '[' {
		raw, err := s.value()
		if err != nil {
			return err
		}
		if string(raw) == "null" {
			return nil
		}
		return errors.New("items is not a list")
	}
	s.pos++
	if c, err := s.peek(); err != nil {
		return unexpectedEOF(err)
	} else if c == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		raw, err := s.item()
		if err != nil {
			var dup *errDuplicate
			if errors.As(err, &dup) {
				return fmt.Errorf("item %d: %w", i, err)
			}
			return err
		}
		if err := fn(raw); err != nil {
			return err
		}
		more, err := s.next(']')
		if err != nil || !more {
			return err
		}
	}
}
