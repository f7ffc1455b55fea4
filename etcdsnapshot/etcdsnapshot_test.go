package etcdsnapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileNameIsDatedUTC(t *testing.T) {
	at := time.Date(2026, 12, 2, 11, 15, 0, 0, time.FixedZone("CET", 3600))
	if got, want := FileName(at), "etcd-snapshot-20261202T101500Z.db"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
}

// TestLinkNewNeverOverwrites: a second snapshot in the same second gets a
// name of its own; the first file keeps its bytes.
func TestLinkNewNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 2, 10, 15, 0, 0, time.UTC)
	write := func(content string) string {
		tmp := filepath.Join(dir, ".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(tmp)
		p, err := linkNew(tmp, dir, at)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, second := write("one"), write("two")
	if filepath.Base(first) != "etcd-snapshot-20261202T101500Z.db" || filepath.Base(second) != "etcd-snapshot-20261202T101500Z-2.db" {
		t.Errorf("names %s, %s", first, second)
	}
	if b, _ := os.ReadFile(first); string(b) != "one" {
		t.Errorf("the first snapshot was overwritten: %q", b)
	}
	if b, _ := os.ReadFile(second); string(b) != "two" {
		t.Errorf("second snapshot holds %q", b)
	}
}

// stream is what etcd sends: the database, whole 512-byte pages, then the
// SHA-256 of it.
func stream(db []byte) []byte {
	sum := sha256.Sum256(db)
	return append(append([]byte{}, db...), sum[:]...)
}

func TestTrailerHash(t *testing.T) {
	db := bytes.Repeat([]byte("etcd page"), 512*3/9+1)[:512*3]
	for _, chunk := range []int{1, 7, 32, 33, 512, 4096} {
		h := &trailerHash{h: sha256.New()}
		s := stream(db)
		for len(s) > 0 {
			n := min(chunk, len(s))
			h.Write(s[:n])
			s = s[n:]
		}
		if err := h.check(); err != nil {
			t.Errorf("chunks of %d: %v", chunk, err)
		}
	}
	bad := stream(db)
	bad[100] ^= 1
	h := &trailerHash{h: sha256.New()}
	h.Write(bad)
	if err := h.check(); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Errorf("a corrupted stream: %v", err)
	}
	h = &trailerHash{h: sha256.New()}
	h.Write(db[:1000])
	if err := h.check(); err == nil || !strings.Contains(err.Error(), "not a whole etcd snapshot") {
		t.Errorf("a cut stream: %v", err)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]Config{
		"no endpoint":           {Dir: dir},
		"no directory":          {Endpoints: []string{"127.0.0.1:2379"}},
		"cert without key":      {Endpoints: []string{"https://127.0.0.1:2379"}, Dir: dir, Cert: "c.crt"},
		"not a URL":             {Endpoints: []string{"etcd"}, Dir: dir},
		"not etcd's scheme":     {Endpoints: []string{"unix:///run/etcd.sock"}, Dir: dir},
		"http with a CA":        {Endpoints: []string{"http://127.0.0.1:2379"}, Dir: dir, CACert: "ca.crt"},
		"missing CA file":       {Endpoints: []string{"https://127.0.0.1:2379"}, Dir: dir, CACert: filepath.Join(dir, "none.crt")},
		"missing cert and key":  {Endpoints: []string{"https://127.0.0.1:2379"}, Dir: dir, Cert: filepath.Join(dir, "c.crt"), Key: filepath.Join(dir, "c.key")},
		"a path in the address": {Endpoints: []string{"https://127.0.0.1:2379/v3"}, Dir: dir},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
	s, err := New(Config{Endpoints: []string{"127.0.0.1:2379", "https://10.0.0.1:2379"}, Dir: "backups"})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(s.Dir()) {
		t.Errorf("Dir %q is not absolute", s.Dir())
	}
}

// TestSaveFromNowhereLeavesNothing: unreachable endpoints fail within the
// dial timeout, naming each, and leave no file behind.
func TestSaveFromNowhereLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	s, err := New(Config{Endpoints: []string{"http://127.0.0.1:1", "127.0.0.1:2"}, Dir: dir, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Save(context.Background())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "127.0.0.1:2") {
		t.Fatalf("err %v, want one naming both endpoints", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to give up", d)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left %d file(s) behind", len(entries))
	}
}
