package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// The real CRDs and docs/api.md, read from the repository root as `make docs` runs.
const (
	crdDir  = "config/crd/bases"
	apiDocs = "docs/api.md"
)

func repoRoot(t *testing.T) {
	t.Helper()
	t.Chdir(filepath.Join("..", ".."))
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatalf("not at the repository root: %v", err)
	}
}

// field is one property of a schema, with the path the generator gives it.
type field struct {
	path   string
	schema apiextv1.JSONSchemaProps
}

// fieldsUnder walks a schema the way a reader of the CRD would: every property, of
// objects, of list items and of map values.
func fieldsUnder(path string, s apiextv1.JSONSchemaProps) []field {
	var out []field
	for name, p := range s.Properties {
		fp := name
		if path != "" {
			fp = path + "." + name
		}
		out = append(out, field{fp, p})
		out = append(out, fieldsUnder(fp, p)...)
	}
	if s.Items != nil && s.Items.Schema != nil {
		out = append(out, fieldsUnder(path+"[]", *s.Items.Schema)...)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		out = append(out, fieldsUnder(path+".<key>", *s.AdditionalProperties.Schema)...)
	}
	return out
}

// rowOf is the table row of a field path in doc, or "".
func rowOf(doc, path string) string {
	prefix := "| " + code(path) + " |"
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// Every spec and status field of every version appears in a row of its own, with
// its description, default, enum values and validation messages.
func TestEveryFieldIsDocumented(t *testing.T) {
	repoRoot(t)
	crds, err := loadCRDs(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	var checked int
	for i, crd := range crds {
		// One kind at a time: kinds share field paths such as status.conditions.
		doc := string(render(crds[i:i+1], crdDir))
		for _, v := range crd.Spec.Versions {
			root := v.Schema.OpenAPIV3Schema
			for _, top := range []string{"spec", "status"} {
				s, ok := root.Properties[top]
				if !ok && top == "status" && (v.Subresources == nil || v.Subresources.Status == nil) {
					continue // a kind no controller writes back to, such as AccessApproval
				}
				if !ok {
					t.Errorf("%s %s: the schema has no %s", crd.Spec.Names.Kind, v.Name, top)
					continue
				}
				if rowOf(doc, top) == "" {
					t.Errorf("%s %s: no row for %s", crd.Spec.Names.Kind, v.Name, top)
				}
				for _, f := range fieldsUnder(top, s) {
					checked++
					row := rowOf(doc, f.path)
					if row == "" {
						t.Errorf("%s %s: no row for %s", crd.Spec.Names.Kind, v.Name, f.path)
						continue
					}
					if f.schema.Description == "" {
						t.Errorf("%s has no description: add a doc comment to its Go field", f.path)
					} else if !strings.Contains(row, "| "+cell(f.schema.Description)+" |") {
						t.Errorf("the row of %s lacks its description %q:\n%s", f.path, f.schema.Description, row)
					}
					if f.schema.Default != nil && !strings.Contains(row, code(jsonValue(f.schema.Default.Raw))) {
						t.Errorf("the row of %s lacks its default %s:\n%s", f.path, f.schema.Default.Raw, row)
					}
					for _, e := range f.schema.Enum {
						if !strings.Contains(row, code(jsonValue(e.Raw))) {
							t.Errorf("the row of %s lacks the enum value %s:\n%s", f.path, e.Raw, row)
						}
					}
					if f.schema.MaxLength != nil && !strings.Contains(row, itoa(*f.schema.MaxLength)+" character") {
						t.Errorf("the row of %s lacks its maxLength %d:\n%s", f.path, *f.schema.MaxLength, row)
					}
					if f.schema.MaxItems != nil && !strings.Contains(row, itoa(*f.schema.MaxItems)+" item") {
						t.Errorf("the row of %s lacks its maxItems %d:\n%s", f.path, *f.schema.MaxItems, row)
					}
					if f.schema.Pattern != "" && !strings.Contains(row, code(f.schema.Pattern)) {
						t.Errorf("the row of %s lacks its pattern %s:\n%s", f.path, f.schema.Pattern, row)
					}
					if slices.Contains(requiredOf(s, f.path, top), lastName(f.path)) && !strings.Contains(row, " | yes | ") {
						t.Errorf("the row of %s does not say it is required:\n%s", f.path, row)
					}
				}
				for _, r := range rulesUnder(s) {
					want := escape(oneLine(r.Message))
					if r.MessageExpression != "" {
						want = code(oneLine(r.MessageExpression))
					}
					if !strings.Contains(doc, want) {
						t.Errorf("the rule %q is not documented (want %s)", r.Rule, want)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d fields: the walk is broken", checked)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func lastName(path string) string {
	return path[strings.LastIndex(path, ".")+1:]
}

// requiredOf is the required list of the object that holds path.
func requiredOf(top apiextv1.JSONSchemaProps, path, topName string) []string {
	parent := strings.TrimPrefix(path[:strings.LastIndex(path, ".")], topName)
	s := top
	for _, step := range strings.Split(strings.TrimPrefix(parent, "."), ".") {
		if step == "" {
			continue
		}
		name := strings.TrimSuffix(step, "[]")
		s = s.Properties[name]
		for n := strings.Count(step, "[]"); n > 0; n-- {
			s = *s.Items.Schema
		}
	}
	return s.Required
}

func rulesUnder(s apiextv1.JSONSchemaProps) []apiextv1.ValidationRule {
	rules := slices.Clone(s.XValidations)
	for _, p := range s.Properties {
		rules = append(rules, rulesUnder(p)...)
	}
	if s.Items != nil && s.Items.Schema != nil {
		rules = append(rules, rulesUnder(*s.Items.Schema)...)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		rules = append(rules, rulesUnder(*s.AdditionalProperties.Schema)...)
	}
	return rules
}

// The kind's names, scope and print columns are in the reference, with the header
// that says it is generated.
func TestKindSummary(t *testing.T) {
	repoRoot(t)
	crds, err := loadCRDs(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(render(crds, crdDir))
	if first, _, _ := strings.Cut(doc, "\n"); !strings.Contains(first, "make docs") || !strings.Contains(first, "DO NOT EDIT") {
		t.Errorf("the first line does not say the file is generated by make docs: %q", first)
	}
	for _, crd := range crds {
		n := crd.Spec.Names
		for _, want := range append(append([]string{"## " + n.Kind, string(crd.Spec.Scope), code(n.Plural)}, n.ShortNames...), n.Categories...) {
			if !strings.Contains(doc, want) {
				t.Errorf("%s: the reference lacks %q", n.Kind, want)
			}
		}
		for _, v := range crd.Spec.Versions {
			for _, c := range v.AdditionalPrinterColumns {
				if !strings.Contains(doc, "| "+c.Name+" | "+c.Type+" | "+code(c.JSONPath)+" |") {
					t.Errorf("%s %s: the print column %s is missing", n.Kind, v.Name, c.Name)
				}
			}
		}
	}
}

// docs/api.md is what the generator writes today; when this fails, run `make docs`.
func TestAPIDocsUpToDate(t *testing.T) {
	repoRoot(t)
	var stderr bytes.Buffer
	if code := run([]string{"-crds", crdDir, "-out", apiDocs, "-check"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("%s is out of date with %s (exit %d: %s); run `make docs` and commit it", apiDocs, crdDir, code, stderr.String())
	}
}

// -check fails on a stale or missing file and passes on a fresh one; it never writes.
func TestCheckMode(t *testing.T) {
	repoRoot(t)
	out := filepath.Join(t.TempDir(), "api.md")
	var stderr bytes.Buffer
	if code := run([]string{"-crds", crdDir, "-out", out, "-check"}, &bytes.Buffer{}, &stderr); code != 1 {
		t.Fatalf("-check on a missing file: exit %d, want 1", code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("-check wrote %s", out)
	}

	if code := run([]string{"-crds", crdDir, "-out", out}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("generating: exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"-crds", crdDir, "-out", out, "-check"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("-check right after generating: exit %d: %s", code, stderr.String())
	}

	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// A description edited by hand (or a type changed without `make docs`).
	stale := bytes.Replace(fresh, []byte("ClusterName is the name"), []byte("ClusterName is a name"), 1)
	if bytes.Equal(stale, fresh) {
		t.Fatal("the test's edit did not apply")
	}
	if err := os.WriteFile(out, stale, 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run([]string{"-crds", crdDir, "-out", out, "-check"}, &bytes.Buffer{}, &stderr); code != 1 {
		t.Fatalf("-check on a stale file: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "out of date") || !strings.Contains(stderr.String(), "make docs") {
		t.Errorf("-check message does not say what to do: %s", stderr.String())
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(after, stale) {
		t.Error("-check changed the file")
	}
}

// The same CRDs give the same bytes, whatever the order they are read in.
func TestDeterministic(t *testing.T) {
	repoRoot(t)
	crds, err := loadCRDs(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if code := run([]string{"-crds", crdDir, "-out", "-"}, &stdout, &bytes.Buffer{}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for range 5 {
		again, err := loadCRDs(crdDir)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(render(again, crdDir), stdout.Bytes()) {
			t.Fatal("two runs differ")
		}
	}
	if !bytes.Equal(render(crds, crdDir), stdout.Bytes()) {
		t.Fatal("render and -out - differ")
	}
}

// A schema with what the real CRDs do not use yet: several CRDs and documents in one
// file, nested lists, maps of objects, int-or-string, wide columns, deprecation.
const syntheticCRDs = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-crd
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.b.example.com
spec:
  group: b.example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    deprecated: true
    deprecationWarning: use v2
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size, priority: 1, description: "the size | in units"}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: The spec.
            properties:
              size:
                type: integer
                description: Size in *units* <b>.
                minimum: 1
                maximum: 10
                exclusiveMaximum: true
              port:
                x-kubernetes-int-or-string: true
                description: A port.
              grid:
                type: array
                description: Rows of cells.
                items:
                  type: array
                  items:
                    type: object
                    description: A cell.
                    properties:
                      value: {type: string, description: "The value, ` + "`a|b`" + `.", pattern: "^(a|b)$"}
              parts:
                type: object
                description: Parts by name.
                additionalProperties:
                  type: object
                  description: A part.
                  required: [weight]
                  properties:
                    weight: {type: number, description: The weight., default: 1.5}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.a.example.com
spec:
  group: a.example.com
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: The gadget.
            properties:
              enabled: {type: boolean, description: On or off.}
`

func TestSyntheticCRDs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "crds.yaml"), []byte(syntheticCRDs), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-crds", dir, "-out", "-"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	doc := stdout.String()
	if strings.Index(doc, "## Gadget") > strings.Index(doc, "## Widget") {
		t.Error("kinds are not sorted by group")
	}
	for _, want := range []string{
		"This version is deprecated. use v2",
		"| Size | integer | `.spec.size` | with `-o wide` | the size \\| in units |",
		"| `spec.size` | integer |  |  | Size in \\*units\\* &lt;b&gt;. | at least 1<br>less than 10 |",
		"| `spec.port` | int-or-string |",
		"| `spec.grid` | \\[\\]\\[\\][object](#b-example-com-widget-v1-spec-grid) |",
		"#### `spec.grid[][]`",
		"| `spec.grid[][].value` | string |  |  | The value, `a\\|b`. | matches `^(a\\|b)$` |",
		"| `spec.parts` | map\\[string\\][object](#b-example-com-widget-v1-spec-parts-key) |",
		"| `spec.parts.<key>.weight` | number | yes | `1.5` | The weight. |",
		"| `spec.enabled` | boolean |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("missing %q in:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "not-a-crd") {
		t.Error("a ConfigMap was documented")
	}
	// Every link points at an anchor of the document.
	for _, part := range strings.Split(doc, "](#")[1:] {
		id, _, _ := strings.Cut(part, ")")
		if !strings.Contains(doc, `<a id="`+id+`"></a>`) {
			t.Errorf("link to #%s has no anchor", id)
		}
	}

	empty := t.TempDir()
	if code := run([]string{"-crds", empty, "-out", "-"}, &stdout, &stderr); code != 1 {
		t.Errorf("a directory without CRDs: exit %d, want 1", code)
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                   "plain text",
		"a | b":                        "a \\| b",
		"EC2_LINUX and _x_":            "EC2_LINUX and \\_x\\_",
		"'*' wildcard such as 'dev-*'": "'\\*' wildcard such as 'dev-\\*'",
		"<b> & more":                   "&lt;b&gt; & more",
		"run `a | b *c*` now":          "run `a \\| b *c*` now",
		"one ` tick":                   "one \\` tick",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cell("First line\nwraps.\n\nSecond paragraph."); got != "First line wraps.<br><br>Second paragraph." {
		t.Errorf("cell: %q", got)
	}
}

// Every link in the real reference points at an anchor in it.
func TestLinksResolve(t *testing.T) {
	repoRoot(t)
	crds, err := loadCRDs(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(render(crds, crdDir))
	for _, part := range strings.Split(doc, "](#")[1:] {
		id, _, _ := strings.Cut(part, ")")
		if !strings.Contains(doc, `<a id="`+id+`"></a>`) {
			t.Errorf("link to #%s has no anchor", id)
		}
	}
}
