package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Duplicate member names.
//
// encoding/json keeps the last of two members with the same name, and
// matches names to fields ignoring case: {"kind":"Node","kind":"Pod"} and
// {"kind":"Node","Kind":"Pod"} both decode as a Pod, while the API server
// (case-sensitive) and a reader of the file may take it for a Node. An
// object whose top-level members repeat a name that way is refused as
// malformed: it could change the kind, the metadata or the spec the gate
// judges without anyone seeing it. (YAML documents are checked by the YAML
// parser in strict mode; what it lets through, names differing only in
// case, is checked here once it is JSON.)

// errDuplicate is a repeated member name, as encoding/json would match it.
type errDuplicate struct{ first, again string }

func (e *errDuplicate) Error() string {
	if e.first == e.again {
		return fmt.Sprintf("member %q appears twice in one object: which one counts is ambiguous (remove one)", e.first)
	}
	return fmt.Sprintf("members %q and %q in one object name the same field: which one counts is ambiguous (remove one)", e.first, e.again)
}

// checkDuplicates returns an errDuplicate when two top-level members of the
// JSON object raw (or two members of its metadata) have names
// encoding/json would match to the same field.
// It walks the bytes once without decoding; it does not validate: on
// malformed input it returns nil and leaves the error to the decoder.
func checkDuplicates(raw []byte) error {
	raw = skipSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var keys [16][]byte // most objects have fewer top-level members
	names := keys[:0]
	depth := 0 // nesting below the object's top level
	for i := 1; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			end := stringEnd(raw, i)
			if end < 0 {
				return nil
			}
			if depth == 0 {
				// At the top level a string is a name when a colon follows.
				rest := skipSpace(raw[end+1:])
				if len(rest) > 0 && rest[0] == ':' {
					name := raw[i+1 : end]
					for _, prev := range names {
						if sameField(prev, name) {
							return &errDuplicate{first: unquote(prev), again: unquote(name)}
						}
					}
					names = append(names, name)
					// The metadata's own members too: a second name or
					// namespace would rename the object as silently.
					if sameField(name, []byte("metadata")) {
						if err := checkDuplicates(rest[1:]); err != nil {
							return err
						}
					}
				}
			}
			i = end
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return nil // the object's end
			}
			depth--
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the string that opens
// at raw[start], or -1.
func stringEnd(raw []byte, start int) int {
	for i := start + 1; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++ // the escaped byte
		case '"':
			return i
		}
	}
	return -1
}

// sameField reports whether encoding/json would match the two raw member
// names (the bytes between the quotes) to the same struct field: equal
// under Unicode simple case folding once escapes are decoded, as
// encoding/json's own name folding.
func sameField(a, b []byte) bool {
	if plain(a) && plain(b) {
		return len(a) == len(b) && bytes.EqualFold(a, b)
	}
	return strings.EqualFold(unquote(a), unquote(b))
}

// plain reports whether a raw name is ASCII without escapes, so that its
// bytes are its value.
func plain(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unquote decodes a raw member name; a malformed one stays as it is.
func unquote(b []byte) string {
	if plain(b) {
		return string(b)
	}
	var s string
	q := make([]byte, 0, len(b)+2)
	q = append(append(append(q, '"'), b...), '"')
	if json.Unmarshal(q, &s) != nil {
		return string(b)
	}
	return s
}
