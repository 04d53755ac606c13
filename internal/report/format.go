package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats the report writes.
var Formats = []string{"table", "csv", "json", "markdown"}

// Write writes the rows in a format: table, csv, json or markdown.
func Write(w io.Writer, format string, rows []Row, generated time.Time) error {
	switch format {
	case "table":
		return writeTable(w, rows)
	case "csv":
		return writeCSV(w, rows)
	case "json":
		return writeJSON(w, rows, generated)
	case "markdown":
		return writeMarkdown(w, rows, generated)
	}
	return fmt.Errorf("unknown format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// columns are the fields every format but JSON prints, in order; table and
// Markdown leave out the last ones (the CSV has them all).
var columns = []struct {
	name  string
	value func(Row) string
}{
	{"CLUSTER", func(r Row) string { return r.Cluster }},
	{"ACCOUNT", func(r Row) string { return r.Account }},
	{"REGION", func(r Row) string { return r.Region }},
	{"PRINCIPAL", func(r Row) string { return r.Principal }},
	{"TYPE", func(r Row) string { return r.Type }},
	{"USERNAME", func(r Row) string { return r.Username }},
	{"GROUPS", func(r Row) string { return strings.Join(r.Groups, ",") }},
	{"POLICY", func(r Row) string { return r.Policy }},
	{"SCOPE", func(r Row) string { return r.Scope }},
	{"ADMIN", func(r Row) string { return yesNo(r.Admin) }},
	{"ORIGIN", func(r Row) string { return string(r.Origin) }},
	{"OBJECT", func(r Row) string { return r.Object }},
	{"MATCHES", func(r Row) string { return r.Matches }},
	{"UNTIL", func(r Row) string { return timeText(r.Until) }},
	{"SOURCE", func(r Row) string { return r.Source }},
	{"DETAIL", detail},
	// CSV only.
	{"ADMIN_WHY", func(r Row) string { return r.AdminWhy }},
	{"POLICY_ARN", func(r Row) string { return r.PolicyARN }},
	{"SEEN_AT", func(r Row) string { return timeText(r.SeenAt) }},
}

// shortColumns is how many columns the table and Markdown print.
const shortColumns = 16

// detail is why EKS made an entry or what the operator does with it, and what drifted.
func detail(r Row) string {
	return strings.Join(slices.DeleteFunc([]string{r.Why, r.Drift}, func(s string) bool { return s == "" }), "; ")
}

func writeTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(value func(int) string) {
		var cells []string
		for i := range shortColumns {
			cells = append(cells, dash(value(i)))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	line(func(i int) string { return columns[i].name })
	for _, r := range rows {
		line(func(i int) string { return columns[i].value(r) })
	}
	return tw.Flush()
}

func writeCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(columns))
	for i, c := range columns {
		header[i] = strings.ToLower(c.name)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		rec := make([]string, len(columns))
		for i, c := range columns {
			rec[i] = c.value(r)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// document is the JSON report.
type document struct {
	Generated time.Time `json:"generated"`
	Rows      []Row     `json:"rows"`
}

func writeJSON(w io.Writer, rows []Row, generated time.Time) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(document{Generated: generated.UTC(), Rows: rows})
}

func writeMarkdown(w io.Writer, rows []Row, generated time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# EKS access report\n\nGenerated %s: %d rows, %d admin-equivalent.\n\n", generated.UTC().Format(time.RFC3339), len(rows), countAdmin(rows))
	var head, rule []string
	for _, c := range columns[:shortColumns] {
		head = append(head, strings.ToLower(c.name))
		rule = append(rule, "---")
	}
	b.WriteString("| " + strings.Join(head, " | ") + " |\n| " + strings.Join(rule, " | ") + " |\n")
	for _, r := range rows {
		var cells []string
		for _, c := range columns[:shortColumns] {
			cells = append(cells, markdownCell(c.value(r)))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownCell escapes what would end a cell or a row.
func markdownCell(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func countAdmin(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.Admin {
			n++
		}
	}
	return n
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
