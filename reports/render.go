// Package reports renders upgate's reports (package finding) as text, JSON,
// JUnit or Markdown: pure functions of the report, so the same report
// gives the same bytes.
package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/upgate-dev/upgate/finding"
)

// Format names a printer of the --format flag.
type Format string

const (
	FormatText     Format = "text"
	FormatJSON     Format = "json"
	FormatJUnit    Format = "junit"
	FormatMarkdown Format = "markdown"
)

// Formats lists the accepted formats in the order help text shows them.
var Formats = []Format{FormatText, FormatJSON, FormatJUnit, FormatMarkdown}

// ParseFormat validates a --format value. The empty string is the default,
// text, so an unset flag or config key needs no special case.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatText, nil
	}
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q: use one of %s", s, strings.Join(names, ", "))
}

// RenderOptions tunes the printers. The zero value is right for files and
// pipes: no colour, the `upgate` binary name, next steps rebuilt from the
// report.
type RenderOptions struct {
	// Color turns on ANSI colour in the text format. The CLI sets it only
	// when writing to a terminal, so files and CI logs stay plain.
	Color bool
	// Command is how the user invokes upgate in suggested next commands,
	// e.g. "kubectl upgate" for the plugin. Empty means "upgate".
	Command string
	// Rerun is the command line that produced the report. When set, the
	// "fix and re-run" step shows it verbatim, so it keeps flags the report
	// does not record (--kubeconfig, --policy-dir, ...).
	Rerun string
}

// Render writes the report in the given format. It never changes r.
func Render(w io.Writer, r *finding.Report, format Format, opts RenderOptions) error {
	if r == nil {
		return fmt.Errorf("render: no report")
	}
	if format == "" {
		format = FormatText
	}
	var err error
	switch format {
	case FormatText:
		err = renderText(w, r, opts)
	case FormatJSON:
		err = renderJSON(w, r)
	case FormatJUnit:
		err = renderJUnit(w, r)
	case FormatMarkdown:
		err = renderMarkdown(w, r, opts)
	default:
		return fmt.Errorf("render: unknown format %q", format)
	}
	if err != nil {
		return fmt.Errorf("render %s report: %w", format, err)
	}
	return nil
}
