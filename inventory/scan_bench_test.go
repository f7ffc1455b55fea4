package inventory

import (
	"bytes"
	"encoding/json"
	"testing"
)

var benchSnap []byte

// benchItems is a JSON array of 5,000 pods as the API server writes them.
func benchItems(b *testing.B) []byte {
	if benchSnap == nil {
		var buf bytes.Buffer
		buf.WriteString(`[`)
		pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-7d9c-abcde","namespace":"shop","labels":{"app":"web","pod-template-hash":"7d9c"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d9c","uid":"1234","controller":true}]},"spec":{"nodeName":"worker-1","containers":[{"name":"web","image":"nginx:1.27","resources":{"requests":{"cpu":"100m","memory":"128Mi"}},"env":[{"name":"A","value":"x"}],"livenessProbe":{"httpGet":{"path":"/healthz","port":8080}}}],"volumes":[{"name":"kube-api-access","projected":{"sources":[{"serviceAccountToken":{"path":"token","expirationSeconds":3607}}]}}]},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"web","ready":true,"restartCount":0,"image":"nginx:1.27","imageID":"docker.io/library/nginx@sha256:abc","containerID":"containerd://abc","state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}}`
		for i := 0; i < 5000; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(pod)
		}
		buf.WriteString(`]`)
		benchSnap = buf.Bytes()
	}
	return benchSnap
}

// BenchmarkScanItems is the scanner's pass over a list's items: value
// only finds where each ends; item also checks member names (it must cost
// no more than value); checkDuplicates is the separate walk the whole
// documents of YAML input get.
func BenchmarkScanItems(b *testing.B) {
	data := benchItems(b)
	for _, names := range []bool{false, true} {
		b.Run(map[bool]string{false: "value", true: "item"}[names], func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				sc := newScanner(bytes.NewReader(data))
				if err := sc.expect('['); err != nil {
					b.Fatal(err)
				}
				for {
					var err error
					if names {
						_, err = sc.item()
					} else {
						_, err = sc.value()
					}
					if err != nil {
						b.Fatal(err)
					}
					more, err := sc.next(']')
					if err != nil {
						b.Fatal(err)
					}
					if !more {
						break
					}
				}
			}
		})
	}
	b.Run("checkDuplicates", func(b *testing.B) {
		var items []json.RawMessage
		_ = json.Unmarshal(data, &items)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for _, it := range items {
				if checkDuplicates(it) != nil {
					b.Fatal("dup")
				}
			}
		}
	})
}
