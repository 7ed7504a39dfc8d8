package samtemplate

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// convert turns a yaml.Node tree into generic Go values. It works on nodes
// rather than decoding into `any` directly because yaml.v3 cannot decode
// CloudFormation's custom tags (!Ref, !Sub, ...) into interfaces; here they
// become the long-form maps CloudFormation itself would produce.
func convert(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return convert(n.Content[0])
	case yaml.AliasNode:
		return convert(n.Alias)
	}
	v, err := convertPlain(n)
	if err != nil {
		return nil, err
	}
	if tag := n.Tag; strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		return intrinsic(tag[1:], v, n)
	}
	return v, nil
}

// convertPlain converts n ignoring a custom tag on n itself.
func convertPlain(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			val, err := convert(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		return s, nil
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return n.Value, nil // the argument of a short-form intrinsic
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	case yaml.AliasNode, yaml.DocumentNode:
		return convert(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node kind %v", n.Line, n.Kind)
}

// intrinsic builds the long form of a short-form CloudFormation tag.
func intrinsic(name string, arg any, n *yaml.Node) (any, error) {
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: arg}, nil
	case "GetAtt":
		// !GetAtt Res.Attr is the scalar form of ["Res", "Attr"].
		if s, ok := arg.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, s)
			}
			arg = []any{res, attr}
		}
		return map[string]any{"Fn::GetAtt": arg}, nil
	default:
		return map[string]any{"Fn::" + name: arg}, nil
	}
}

// intValue reads an integer property that may be a literal, a numeric
// string, or a {"Ref": Param} to a parameter with a Default.
func (t *Template) intValue(v any) (int, error) {
	v = t.resolveRef(v)
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case uint64:
		return int(x), nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		n, err := strconv.Atoi(x)
		if err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("not an integer: %v", v)
}

// stringValue reads a string property that may be a literal or a Ref to a
// parameter with a Default.
func (t *Template) stringValue(v any) (string, error) {
	v = t.resolveRef(v)
	switch x := v.(type) {
	case string:
		return x, nil
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("not a string: %v", v)
}

// boolValue reads a boolean property ("true"/"false" strings included, as
// CloudFormation accepts them).
func (t *Template) boolValue(v any) (bool, error) {
	v = t.resolveRef(v)
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(x)
		if err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("not a boolean: %v", v)
}

// resolveRef replaces {"Ref": P} by parameter P's Default, the only
// intrinsic that has a value without a deployment.
func (t *Template) resolveRef(v any) any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v
	}
	name, ok := m["Ref"].(string)
	if !ok {
		return v
	}
	params, _ := t.Doc["Parameters"].(map[string]any)
	p, _ := params[name].(map[string]any)
	if def, ok := p["Default"]; ok {
		return def
	}
	return v
}
