package inventory

import (
	"encoding/json"
	"runtime"
)

// pipeline decodes the items of one list or snapshot on several goroutines
// and commits them to the inventory in input order, so the result is the
// same as decoding them one after another: batches of items are decoded
// concurrently while the caller reads the next ones, and committed oldest
// first. The first item error (in input order) stops it.
type pipeline struct {
	inv    *Inventory
	source string
	record recording
	def    typeMeta
	// checked: the items' member names were checked as they were scanned
	// (scanner.item), so decodeRaw need not walk them again.
	checked bool
	// wrap gives an item's error its context (its index in the input).
	wrap func(i int, err error) error
	// templates are a snapshot's pod templates, which its pods name.
	templates templateTable

	batch    []json.RawMessage
	next     int // input index of batch[0]
	inflight []*batchJob
	limit    int
	n        int // items committed
	err      error
	// start and end bound the usages the items recorded in
	// inv.APIUsages (end is set by finish).
	start, end int
}

type batchJob struct {
	first int
	raws  []json.RawMessage
	out   []item
	done  chan struct{}
}

const pipelineBatch = 256

func newPipeline(inv *Inventory, source string, record recording, def typeMeta, wrap func(int, error) error) *pipeline {
	return &pipeline{inv: inv, source: source, record: record, def: def, wrap: wrap, limit: max(runtime.GOMAXPROCS(0), 1),
		start: len(inv.APIUsages)}
}

// add queues one item. It reports the first error met so far, so that the
// caller may stop reading.
func (p *pipeline) add(raw json.RawMessage) error {
	p.batch = append(p.batch, raw)
	if len(p.batch) >= pipelineBatch {
		p.launch()
	}
	return p.err
}

func (p *pipeline) launch() {
	if len(p.batch) == 0 {
		return
	}
	j := &batchJob{first: p.next, raws: p.batch, out: make([]item, len(p.batch)), done: make(chan struct{})}
	p.next += len(p.batch)
	p.batch = nil
	go func() {
		defer close(j.done)
		for i, raw := range j.raws {
			j.out[i] = decodeRaw(p.source, raw, p.record, p.def, p.checked, p.templates)
			if j.out[i].err != nil {
				return // the rest of the batch is never committed
			}
		}
	}()
	p.inflight = append(p.inflight, j)
	for len(p.inflight) > p.limit {
		p.commitOldest()
	}
}

func (p *pipeline) commitOldest() {
	j := p.inflight[0]
	p.inflight = p.inflight[1:]
	<-j.done
	for i := range j.out {
		if p.err != nil {
			return
		}
		it := &j.out[i]
		if it.err != nil {
			p.err = p.wrap(j.first+i, it.err)
			return
		}
		it.commit(p.inv)
		p.n++
	}
}

// finish decodes and commits what is left and returns how many items were
// committed and the first error.
func (p *pipeline) finish() (int, error) {
	p.launch()
	for len(p.inflight) > 0 {
		p.commitOldest()
	}
	p.end = len(p.inv.APIUsages)
	return p.n, p.err
}

// unimply takes back, for each object refs names, one served usage the
// items recorded (recordServed): a v1alpha2 snapshot's NotServed, the
// items that had none to leave out.
func (p *pipeline) unimply(refs []ObjectRef) {
	if len(refs) == 0 || p.record != recordServed {
		return // only items recording their served usage recorded one to take back
	}
	drop := make(map[ObjectRef]int, len(refs))
	for _, r := range refs {
		drop[r]++
	}
	us := p.inv.APIUsages
	w := p.start
	for i := p.start; i < p.end; i++ {
		if r := (ObjectRef{Kind: us[i].Kind, Namespace: us[i].Namespace, Name: us[i].Name}); drop[r] > 0 {
			drop[r]--
			continue
		}
		us[w] = us[i]
		w++
	}
	n := copy(us[w:], us[p.end:])
	p.inv.APIUsages = us[:w+n]
	p.end = w
}

// decodeRaw checks that an item is an object, and unless checked that no
// member name repeats, before decoding it.
func decodeRaw(source string, raw json.RawMessage, record recording, def typeMeta, checked bool, tt templateTable) item {
	raw = trimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return item{err: errNotObject}
	}
	if !checked {
		if err := checkDuplicates(raw); err != nil {
			return item{err: err}
		}
	}
	return decodeItem(source, raw, record, def, tt)
}

func trimSpace(b []byte) []byte {
	b = skipSpace(b)
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
