package onboard

import (
	"fmt"
	"io"
	"strings"
)

// Report says what became of each input (an aws-auth mapping, an EKS entry) and
// what a person has to look at before applying the manifests.
type Report struct {
	// Title is the first line: what was read and how much of it converted.
	Title string
	Items []Item
	// Notes apply to the whole output; printed last.
	Notes []string
}

// Item is one input and what became of it.
type Item struct {
	// Source names the input: "mapRoles[3]", or the principal for an EKS entry.
	Source string
	// Subject is what the input is about (a principal ARN, an account), or more
	// about the source (an entry's type).
	Subject string
	// Object is "namespace/name (TYPE)" of the AccessEntry it became; "" when none.
	Object string
	Lines  []Line
}

// Line is one finding about an item.
type Line struct {
	Kind LineKind
	Text string
}

// LineKind sorts findings by what they ask of the reader.
type LineKind string

const (
	// NotConverted: the aws-auth input produced no object.
	NotConverted LineKind = "not converted"
	// NotImported: the EKS entry produced no object.
	NotImported LineKind = "not imported"
	// Changed: the object grants something different from the input; review it.
	Changed LineKind = "changed"
	// Check: the object is a best guess that a person has to confirm.
	Check LineKind = "check"
	// Note: information, nothing to do.
	Note LineKind = "note"
)

func (it *Item) add(kind LineKind, format string, args ...any) {
	it.Lines = append(it.Lines, Line{Kind: kind, Text: fmt.Sprintf(format, args...)})
}

// converted reports whether the item produced an object.
func (it Item) converted() bool { return it.Object != "" }

// has reports whether any line is of kind k.
func (it Item) has(k LineKind) bool {
	for _, l := range it.Lines {
		if l.Kind == k {
			return true
		}
	}
	return false
}

// Count is how many items produced an object, how many did not, and how many have
// findings of kind Changed or Check to review.
func (r Report) Count() (converted, notConverted, review int) {
	for _, it := range r.Items {
		if it.converted() {
			converted++
		} else {
			notConverted++
		}
		if it.has(Changed) || it.has(Check) {
			review++
		}
	}
	return converted, notConverted, review
}

// Write prints the report: the title, each item with its findings indented under
// it, then the notes.
func (r Report) Write(w io.Writer) error {
	var b strings.Builder
	b.WriteString(r.Title + "\n")
	for _, it := range r.Items {
		b.WriteString("\n" + it.Source)
		if it.Subject != "" {
			b.WriteString(" " + it.Subject)
		}
		b.WriteString("\n")
		if it.Object != "" {
			b.WriteString("  -> AccessEntry " + it.Object + "\n")
		}
		for _, l := range it.Lines {
			fmt.Fprintf(&b, "  %s: %s\n", l.Kind, l.Text)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nBefore applying:\n")
		for _, n := range r.Notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Result is what Import and Migrate produce: the manifests and the report.
type Result struct {
	Objects []Object
	Report  Report
}
