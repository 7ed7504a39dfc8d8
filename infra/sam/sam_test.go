package sam

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/laoyou/laoyou/infra/samtemplate"
)

// pendingTemplateVariables are set in env.json but not yet declared in
// template.yaml. The SAM CLI only passes variables the template declares,
// so each must become a Globals variable (empty in AWS) before sam local
// can use it.
var pendingTemplateVariables = map[string]bool{}

func loadTemplate(t *testing.T) (*samtemplate.Template, string) {
	t.Helper()
	path, err := samtemplate.FindPath()
	require.NoError(t, err)
	tmpl, err := samtemplate.Load(path)
	require.NoError(t, err)
	return tmpl, filepath.Dir(path)
}

func loadEnvFile(t *testing.T) map[string]map[string]string {
	t.Helper()
	raw, err := os.ReadFile("env.json")
	require.NoError(t, err)
	var env map[string]map[string]string
	require.NoError(t, json.Unmarshal(raw, &env), "env.json maps function logical ids to variables, all strings")
	return env
}

// declaredVariables are the variables the template gives fn: the Globals'
// and the function's own.
func declaredVariables(tmpl *samtemplate.Template, fn string) map[string]bool {
	out := map[string]bool{}
	add := func(props any) {
		p, _ := props.(map[string]any)
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for k := range vars {
			out[k] = true
		}
	}
	globals, _ := tmpl.Doc["Globals"].(map[string]any)
	add(globals["Function"])
	if r, ok := tmpl.Resource(fn); ok {
		add(r.Properties)
	}
	return out
}

func TestEnvFileCoversEveryFunction(t *testing.T) {
	tmpl, _ := loadTemplate(t)
	env := loadEnvFile(t)
	require.ElementsMatch(t, tmpl.Functions(), slices.Collect(maps.Keys(env)),
		"env.json has an entry for each function of template.yaml, keyed by logical id")
	for fn, vars := range env {
		require.Equal(t, "laoyou", vars["TABLE_NAME"], fn)
		require.Equal(t, "http://host.docker.internal:8000", vars["DYNAMODB_ENDPOINT"], fn)
		require.NotEmpty(t, vars["PHONE_PEPPER"], "%s: the template reads the pepper from SSM, which sam local cannot resolve", fn)
	}
}

func TestEnvFileSetsOnlyDeclaredVariables(t *testing.T) {
	tmpl, _ := loadTemplate(t)
	for fn, vars := range loadEnvFile(t) {
		declared := declaredVariables(tmpl, fn)
		for name := range vars {
			if pendingTemplateVariables[name] {
				require.False(t, declared[name], "%s is declared in template.yaml now: drop it from pendingTemplateVariables", name)
				continue
			}
			require.True(t, declared[name], "%s: %s is not declared in template.yaml, so sam local would ignore it", fn, name)
		}
	}
}

func TestSamconfig(t *testing.T) {
	tmpl, root := loadTemplate(t)
	cfg := readTOML(t, filepath.Join(root, "samconfig.toml"))
	require.Equal(t, "0.1", cfg["version"])

	params, _ := tmpl.Doc["Parameters"].(map[string]any)
	var required []string
	for name, p := range params {
		if _, ok := p.(map[string]any)["Default"]; !ok {
			required = append(required, name)
		}
	}

	tests := []struct {
		env, stack string
	}{
		{"default", "laoyou"},
		{"staging", "laoyou-staging"},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			require.Equal(t, tc.stack, cfg[tc.env+".global.parameters.stack_name"])
			deploy := tc.env + ".deploy.parameters."
			require.Equal(t, "CAPABILITY_IAM", cfg[deploy+"capabilities"])
			require.Equal(t, "true", cfg[deploy+"resolve_s3"])
			require.Equal(t, "true", cfg[deploy+"confirm_changeset"])
			given := overrides(t, tmpl, cfg[deploy+"parameter_overrides"])
			for _, name := range required {
				require.Contains(t, given, name, "%s has no default in template.yaml", name)
			}
		})
	}

	for _, cmd := range []string{"local_invoke", "local_start_api"} {
		t.Run(cmd, func(t *testing.T) {
			prefix := "default." + cmd + ".parameters."
			require.FileExists(t, filepath.Join(root, cfg[prefix+"env_vars"]))
			given := overrides(t, tmpl, cfg[prefix+"parameter_overrides"])
			for _, name := range required {
				require.Contains(t, given, name)
			}
		})
	}
}

// overrides reads a parameter_overrides string ("A=1 B=2") and checks every
// name is a parameter of the template: CloudFormation refuses others.
func overrides(t *testing.T, tmpl *samtemplate.Template, s string) map[string]string {
	t.Helper()
	params, _ := tmpl.Doc["Parameters"].(map[string]any)
	out := map[string]string{}
	for _, kv := range strings.Fields(s) {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, "%q is not Name=Value", kv)
		require.Contains(t, params, k, "parameter_overrides names %s, which template.yaml does not declare", k)
		require.NotEmpty(t, v, k)
		out[k] = v
	}
	require.NotEmpty(t, out)
	return out
}

// readTOML reads the small part of TOML that samconfig.toml uses: [table]
// headers and key = value lines whose value is a string, a boolean, a
// number or an array of strings. Keys come back as "table.key"; arrays as
// their items joined by commas.
func readTOML(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	table := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			require.True(t, strings.HasSuffix(line, "]"), "line %d: %s", n, line)
			table = strings.Trim(line, "[]") + "."
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "line %d: %s", n, line)
		key := table + strings.TrimSpace(k)
		require.NotContains(t, out, key, "line %d: %s set twice", n, key)
		val, err := tomlValue(strings.TrimSpace(v))
		require.NoError(t, err, "line %d: %s", n, line)
		out[key] = val
	}
	require.NoError(t, sc.Err())
	return out
}

func tomlValue(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		s, err := strconv.QuotedPrefix(v)
		if err != nil {
			return "", err
		}
		if rest := strings.TrimSpace(v[len(s):]); rest != "" && !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("text after the string: %q", rest)
		}
		return strconv.Unquote(s)
	case strings.HasPrefix(v, "["):
		inner, ok := strings.CutSuffix(v, "]")
		if !ok {
			return "", fmt.Errorf("unterminated array %q", v)
		}
		var items []string
		for _, item := range strings.Split(strings.TrimPrefix(inner, "["), ",") {
			s, err := tomlValue(strings.TrimSpace(item))
			if err != nil {
				return "", err
			}
			items = append(items, s)
		}
		return strings.Join(items, ","), nil
	case v == "true" || v == "false":
		return v, nil
	}
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return "", fmt.Errorf("not a string, boolean, number or array: %q", v)
	}
	return v, nil
}
