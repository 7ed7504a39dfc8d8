package runner

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultRoute is the path (and route key) of the catch-all route.
const DefaultRoute = "$default"

type segKind int

// The order is the precedence: API Gateway prefers a literal segment to a
// path variable, and a path variable to a greedy one.
const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind  segKind
	value string // the literal, or the parameter name
}

type route struct {
	Route
	key  string // the routeKey: "POST /v1/groups/{groupId}/join" or "$default"
	any  bool   // Method ANY
	segs []segment
}

type routeTable struct {
	routes []*route
	def    *route // the $default route, if any
}

func newRouteTable(rs []Route) (*routeTable, error) {
	t := &routeTable{}
	seen := map[string]bool{}
	var errs []error
	for _, r := range rs {
		cr, err := compileRoute(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Two templates differing only in parameter names are the same
		// route to API Gateway, so duplicates are keyed by shape.
		shape := cr.shape()
		if seen[shape] {
			errs = append(errs, fmt.Errorf("runner: duplicate route %q", cr.key))
			continue
		}
		seen[shape] = true
		if cr.Path == DefaultRoute {
			t.def = cr
			continue
		}
		t.routes = append(t.routes, cr)
	}
	return t, errors.Join(errs...)
}

func compileRoute(r Route) (*route, error) {
	r.Method = strings.ToUpper(strings.TrimSpace(r.Method))
	if r.Method == "" {
		r.Method = "ANY"
	}
	if r.Path == DefaultRoute {
		return &route{Route: r, key: DefaultRoute, any: true}, nil
	}
	if !strings.HasPrefix(r.Path, "/") {
		return nil, fmt.Errorf("runner: route %s %q: path must start with / or be $default", r.Method, r.Path)
	}
	cr := &route{Route: r, key: r.Method + " " + r.Path, any: r.Method == "ANY"}
	parts := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	names := map[string]bool{}
	for i, p := range parts {
		if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") {
			if strings.ContainsAny(p, "{}") {
				return nil, fmt.Errorf("runner: route %q: bad segment %q", cr.key, p)
			}
			cr.segs = append(cr.segs, segment{kind: segLiteral, value: p})
			continue
		}
		name := p[1 : len(p)-1]
		kind := segParam
		if strings.HasSuffix(name, "+") {
			kind = segGreedy
			name = strings.TrimSuffix(name, "+")
			if i != len(parts)-1 {
				return nil, fmt.Errorf("runner: route %q: greedy variable must be last", cr.key)
			}
		}
		if name == "" || strings.ContainsAny(name, "{}+") || names[name] {
			return nil, fmt.Errorf("runner: route %q: bad or repeated variable %q", cr.key, p)
		}
		names[name] = true
		cr.segs = append(cr.segs, segment{kind: kind, value: name})
	}
	return cr, nil
}

func (r *route) shape() string {
	if r.Path == DefaultRoute {
		return DefaultRoute
	}
	var b strings.Builder
	b.WriteString(r.Method)
	for _, s := range r.segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.value)
		case segParam:
			b.WriteString("{}")
		case segGreedy:
			b.WriteString("{+}")
		}
	}
	return b.String()
}

// match reports whether method and the raw (still escaped) path segments fit
// the route, and returns the URL-decoded path parameters.
func (r *route) match(method string, raw []string) (map[string]string, bool) {
	if !r.any && r.Method != method {
		return nil, false
	}
	var params map[string]string
	set := func(k, v string) {
		if params == nil {
			params = map[string]string{}
		}
		params[k] = v
	}
	for i, s := range r.segs {
		switch s.kind {
		case segGreedy:
			rest := raw[i:]
			if len(rest) == 0 || (len(rest) == 1 && rest[0] == "") {
				return nil, false // {proxy+} needs at least one segment
			}
			v, err := url.PathUnescape(strings.Join(rest, "/"))
			if err != nil {
				return nil, false
			}
			set(s.value, v)
			return params, true
		case segParam:
			if i >= len(raw) || raw[i] == "" {
				return nil, false
			}
			v, err := url.PathUnescape(raw[i])
			if err != nil {
				return nil, false
			}
			set(s.value, v)
		case segLiteral:
			if i >= len(raw) {
				return nil, false
			}
			v, err := url.PathUnescape(raw[i])
			if err != nil || v != s.value {
				return nil, false
			}
		}
	}
	if len(raw) != len(r.segs) {
		return nil, false
	}
	return params, true
}

// moreSpecific reports whether a should win over b when both match: segment
// by segment a literal beats a variable and a variable beats a greedy one;
// then a route for the exact method beats ANY.
func moreSpecific(a, b *route) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		// Only possible with a greedy variable on the shorter one; the longer
		// route spelled out more of the path.
		return len(a.segs) > len(b.segs)
	}
	return !a.any && b.any
}

// find returns the best route for method and escaped path, falling back to
// $default; nil when nothing matches.
func (t *routeTable) find(method, escapedPath string) (*route, map[string]string) {
	raw := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	var best *route
	var bestParams map[string]string
	for _, r := range t.routes {
		params, ok := r.match(method, raw)
		if !ok {
			continue
		}
		if best == nil || moreSpecific(r, best) {
			best, bestParams = r, params
		}
	}
	if best != nil {
		return best, bestParams
	}
	return t.def, nil
}
