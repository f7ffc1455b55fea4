package reports

import (
	"encoding/json"
	"io"

	"github.com/upgate-dev/upgate/finding"
)

// renderJSON writes the contract's report, indented, with a trailing
// newline. The bytes depend only on the report: fields in struct order,
// findings in Finalize order, map keys sorted by encoding/json. That is what
// makes a signed report reproducible and diffable.
func renderJSON(w io.Writer, r *finding.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Messages quote objects like <none> and a && b; keep them readable.
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonView(r))
}

// jsonView returns a shallow copy whose empty lists and maps encode as []
// and {} rather than null, as the contract shows them, without touching r.
func jsonView(r *finding.Report) *finding.Report {
	c := *r
	if c.Findings == nil {
		c.Findings = []finding.Finding{}
	}
	if c.Input.Counts == nil {
		c.Input.Counts = map[string]int{}
	}
	return &c
}
