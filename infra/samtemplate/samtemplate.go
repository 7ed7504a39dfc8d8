// Package samtemplate reads the project's SAM template (template.yaml) so that
// everything running outside AWS takes its shape from the one file that is
// deployed: the local runner gets its routes, schedules and stream consumers
// from it, and tests create their DynamoDB table from its Table resource.
//
// The template is decoded with gopkg.in/yaml.v3 into generic maps
// (map[string]any, []any and scalars). CloudFormation short-form tags such as
// `!Ref X` or `!GetAtt A.B` are rewritten into their long forms
// ({"Ref": "X"}, {"Fn::GetAtt": ["A", "B"]}) while reading, so callers only
// ever see one shape whichever style the template uses.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// TableLogicalID is the logical id of the application's DynamoDB table in
// template.yaml.
const TableLogicalID = "Table"

// Resource types this package understands.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeTable    = "AWS::DynamoDB::Table"
)

// Template is a parsed SAM template.
type Template struct {
	// Path is the file the template was loaded from ("" for Parse).
	Path string
	// Doc is the whole document as generic maps, intrinsics in long form.
	// It is shared, not copied: treat it as read-only.
	Doc map[string]any

	routes    []Route
	schedules []Schedule
	consumers []StreamConsumer
	functions []string
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any
	Metadata   map[string]any
}

// Route is one HttpApi event of a function: the API Gateway route that
// invokes it.
type Route struct {
	Function string // logical id of the AWS::Serverless::Function
	Event    string // event name under the function's Events
	Method   string // upper-case HTTP method; "ANY" matches every method
	Path     string // e.g. "/v1/r/{code}", or "$default" for the catch-all route
	Public   bool   // true when the event sets Auth: {Authorizer: NONE}
}

// String renders the route the way API Gateway names it, e.g. "GET /v1/r/{code}".
func (r Route) String() string { return r.Method + " " + r.Path }

// Schedule is one Schedule or ScheduleV2 event of a function.
type Schedule struct {
	Function   string
	Event      string
	Expression string // e.g. "rate(1 minute)" or "cron(0 3 * * ? *)"
}

// StreamConsumer is one DynamoDB (stream) event of a function.
type StreamConsumer struct {
	Function                string
	Event                   string
	BatchSize               int  // 100 (the Lambda default) when the template leaves it out
	ReportBatchItemFailures bool // FunctionResponseTypes contains ReportBatchItemFailures
	// FilterPatterns are the FilterCriteria.Filters[].Pattern JSON strings;
	// Lambda passes a record on if any pattern matches (none: every record).
	FilterPatterns []string
}

// defaultStreamBatchSize is Lambda's default BatchSize for DynamoDB streams.
const defaultStreamBatchSize = 100

// RepoRoot walks up from the working directory to the directory that holds
// go.mod. Tests run with their package directory as the working directory,
// so this is how they find files at the top of the repository.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("samtemplate: no go.mod found in the working directory or its parents")
		}
		dir = parent
	}
}

// FindPath returns the path of template.yaml at the repository root.
func FindPath() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, "template.yaml")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("samtemplate: %w", err)
	}
	return path, nil
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// Parse parses a template from YAML (or JSON, which is YAML) text. Function
// events are checked here, so that a malformed event fails loudly once
// instead of silently dropping a route later.
func Parse(data []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	v, err := convert(&root)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("samtemplate: template is not a mapping")
	}
	t := &Template{Doc: doc}
	if err := t.index(); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	return t, nil
}

// Resource returns the resource with the given logical id.
func (t *Template) Resource(logicalID string) (Resource, bool) {
	resources, _ := t.Doc["Resources"].(map[string]any)
	raw, ok := resources[logicalID].(map[string]any)
	if !ok {
		return Resource{}, false
	}
	typ, _ := raw["Type"].(string)
	props, _ := raw["Properties"].(map[string]any)
	meta, _ := raw["Metadata"].(map[string]any)
	return Resource{LogicalID: logicalID, Type: typ, Properties: props, Metadata: meta}, true
}

// ResourceIDs returns the logical ids of all resources of the given type,
// sorted.
func (t *Template) ResourceIDs(typ string) []string {
	resources, _ := t.Doc["Resources"].(map[string]any)
	var ids []string
	for id := range resources {
		if r, ok := t.Resource(id); ok && r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Functions returns the logical ids of every AWS::Serverless::Function, sorted.
func (t *Template) Functions() []string { return append([]string(nil), t.functions...) }

// Routes returns every HttpApi event of every function, sorted by Path then
// Method.
func (t *Template) Routes() []Route { return append([]Route(nil), t.routes...) }

// Schedules returns every Schedule and ScheduleV2 event, sorted by function
// then event name.
func (t *Template) Schedules() []Schedule { return append([]Schedule(nil), t.schedules...) }

// StreamConsumers returns every DynamoDB stream event, sorted by function then
// event name.
func (t *Template) StreamConsumers() []StreamConsumer {
	return append([]StreamConsumer(nil), t.consumers...)
}

// index reads the events of every function once, at parse time.
func (t *Template) index() error {
	t.functions = t.ResourceIDs(TypeFunction)
	for _, fn := range t.functions {
		res, _ := t.Resource(fn)
		events, _ := res.Properties["Events"].(map[string]any)
		names := make([]string, 0, len(events))
		for name := range events {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := t.indexEvent(fn, name, events[name]); err != nil {
				return fmt.Errorf("%s.Events.%s: %w", fn, name, err)
			}
		}
	}
	sort.SliceStable(t.routes, func(i, j int) bool {
		a, b := t.routes[i], t.routes[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return nil
}

func (t *Template) indexEvent(fn, name string, raw any) error {
	ev, ok := raw.(map[string]any)
	if !ok {
		return errors.New("event is not a mapping")
	}
	typ, _ := ev["Type"].(string)
	props, _ := ev["Properties"].(map[string]any)
	switch typ {
	case "HttpApi":
		path, err := optString(props, "Path")
		if err != nil {
			return err
		}
		method, err := optString(props, "Method")
		if err != nil {
			return err
		}
		// SAM: an HttpApi event with neither Path nor Method is the API's
		// catch-all route.
		if path == "" {
			path = "$default"
		}
		if method == "" {
			method = "ANY"
		}
		auth, _ := props["Auth"].(map[string]any)
		authorizer, _ := auth["Authorizer"].(string)
		t.routes = append(t.routes, Route{
			Function: fn,
			Event:    name,
			Method:   strings.ToUpper(method),
			Path:     path,
			Public:   authorizer == "NONE",
		})
	case "Schedule", "ScheduleV2":
		key := "Schedule"
		if typ == "ScheduleV2" {
			key = "ScheduleExpression"
		}
		expr, err := optString(props, key)
		if err != nil {
			return err
		}
		if expr == "" {
			return fmt.Errorf("%s event has no %s", typ, key)
		}
		t.schedules = append(t.schedules, Schedule{Function: fn, Event: name, Expression: expr})
	case "DynamoDB":
		c := StreamConsumer{Function: fn, Event: name, BatchSize: defaultStreamBatchSize}
		if v, ok := props["BatchSize"]; ok {
			n, err := t.intValue(v)
			if err != nil {
				return fmt.Errorf("BatchSize: %w", err)
			}
			c.BatchSize = n
		}
		fc, _ := props["FilterCriteria"].(map[string]any)
		for i, f := range list(fc["Filters"]) {
			m, _ := f.(map[string]any)
			pattern, ok := m["Pattern"].(string)
			if !ok {
				return fmt.Errorf("FilterCriteria.Filters[%d].Pattern must be a JSON string", i)
			}
			c.FilterPatterns = append(c.FilterPatterns, pattern)
		}
		types, _ := props["FunctionResponseTypes"].([]any)
		for _, rt := range types {
			if rt == "ReportBatchItemFailures" {
				c.ReportBatchItemFailures = true
			}
		}
		t.consumers = append(t.consumers, c)
	}
	return nil
}

// optString reads an optional plain string property; an intrinsic there
// (which the local runner could not resolve) is an error.
func optString(props map[string]any, key string) (string, error) {
	v, ok := props[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a plain string, got %v", key, v)
	}
	return s, nil
}
