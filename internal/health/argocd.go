package health

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// ArgoCD evaluates the shipped health check, config/argocd/health.lua, on obj (an
// AccessEntry as unstructured content), the way Argo CD does.
func ArgoCD(obj map[string]any) (ArgoHealth, error) {
	script, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "argocd", "health.lua"))
	if err != nil {
		return ArgoHealth{}, err
	}
	return EvalArgoCD(string(script), obj)
}

// The health codes Argo CD accepts from a script; anything else becomes Unknown.
var argoHealthCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

// ArgoHealth is what an Argo CD health check returns.
type ArgoHealth struct {
	Status  string
	Message string
}

// toLua converts an unstructured value the way Argo CD hands the object to a
// health script: maps and slices become tables, every number a Lua number, a
// json.Number a string, nil nothing.
func toLua(L *lua.LState, v any) (lua.LValue, error) {
	switch v := v.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(v), nil
	case string:
		return lua.LString(v), nil
	case json.Number:
		return lua.LString(v), nil
	case int:
		return lua.LNumber(v), nil
	case int32:
		return lua.LNumber(v), nil
	case int64:
		return lua.LNumber(v), nil
	case float64:
		return lua.LNumber(v), nil
	case []any:
		tbl := L.CreateTable(len(v), 0)
		for _, item := range v {
			lv, err := toLua(L, item)
			if err != nil {
				return nil, err
			}
			tbl.Append(lv)
		}
		return tbl, nil
	case map[string]any:
		tbl := L.CreateTable(0, len(v))
		for key, item := range v {
			lv, err := toLua(L, item)
			if err != nil {
				return nil, err
			}
			tbl.RawSetString(key, lv)
		}
		return tbl, nil
	}
	// Argo CD would pass nil here; failing shows the fixture is not what the API
	// machinery produces.
	return nil, fmt.Errorf("no Lua conversion for %T", v)
}

// EvalArgoCD evaluates script as Argo CD evaluates a health check from
// argocd-cm: standard libraries off except package, base and table, a one-second
// budget, the object as the global obj, and the table left on the stack read back.
func EvalArgoCD(script string, obj map[string]any) (ArgoHealth, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return ArgoHealth{}, fmt.Errorf("opening %q: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)

	lv, err := toLua(L, obj)
	if err != nil {
		return ArgoHealth{}, err
	}
	L.SetGlobal("obj", lv)
	if err := L.DoString(script); err != nil {
		return ArgoHealth{}, err
	}

	tbl, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return ArgoHealth{}, fmt.Errorf("the script returned %s, not a table", L.Get(-1).Type())
	}
	var out ArgoHealth
	for field, dst := range map[string]*string{"status": &out.Status, "message": &out.Message} {
		switch v := tbl.RawGetString(field).(type) {
		case lua.LString:
			*dst = string(v)
		case *lua.LNilType:
		default:
			return ArgoHealth{}, fmt.Errorf("%s is a Lua %s, not a string", field, v.Type())
		}
	}
	if !argoHealthCodes[out.Status] {
		return ArgoHealth{}, fmt.Errorf("status %q is not an Argo CD health code", out.Status)
	}
	return out, nil
}
