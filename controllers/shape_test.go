package controllers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestFunctionShape holds the package to the size its steps are written for: no
// function (literals included) spans more than 60 lines or takes more than 4
// parameters. A step that needs more is doing two things.
func TestFunctionShape(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "zz_generated") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var typ *ast.FuncType
			what := "a function literal"
			switch fn := n.(type) {
			case *ast.FuncDecl:
				typ, what = fn.Type, fn.Name.Name
			case *ast.FuncLit:
				typ = fn.Type
			default:
				return true
			}
			params := 0
			for _, p := range typ.Params.List {
				params += max(len(p.Names), 1)
			}
			start, end := fset.Position(n.Pos()), fset.Position(n.End())
			if lines := end.Line - start.Line + 1; lines > 60 || params > 4 {
				t.Errorf("%s:%d: %s spans %d lines and takes %d parameters; at most 60 and 4", name, start.Line, what, lines, params)
			}
			return true
		})
	}
}
