package monitoring

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// selector is a metric name used in an expression, with the label matchers written
// right after it ({label="value", ...}), if any.
type selector struct {
	Metric   string
	Matchers []matcher
}

// matcher is one label matcher: Op is =, !=, =~ or !~.
type matcher struct {
	Label, Op, Value string
}

// promqlKeywords are the operators and modifiers spelt as words.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true,
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || ('0' <= c && c <= '9') }

// selectors tokenizes a PromQL expression (or a Grafana query, with its $variables)
// just enough to find metric names: every identifier followed by `{` is a selector
// (its matchers are read), and every other identifier is kept too, so that a bare
// metric name (`scrutin_elections > 0`) is found; callers keep the names they care
// about. Quoted strings are skipped, so label values never look like names. It also
// checks that (), [] and {} are balanced.
func selectors(expr string) ([]selector, error) {
	var out []selector
	var stack []byte
	closing := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '#': // a PromQL comment runs to the end of the line
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case '0' <= c && c <= '9' || c == '.' && i+1 < len(expr) && '0' <= expr[i+1] && expr[i+1] <= '9':
			// a number or a duration (0.05, 1e3, 5m, 1h30m)
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case c == '$': // a Grafana variable: $namespace, $__rate_interval, ${DS}
			i++
			if i < len(expr) && expr[i] == '{' {
				for i < len(expr) && expr[i] != '}' {
					i++
				}
				i++
				continue
			}
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
			s := selector{Metric: expr[start:i]}
			if promqlKeywords[s.Metric] {
				continue // its parenthesis, or a nameless selector's brace, comes next
			}
			j := i
			for j < len(expr) && (expr[j] == ' ' || expr[j] == '\t' || expr[j] == '\n') {
				j++
			}
			if j < len(expr) && expr[j] == '{' {
				ms, end, err := readMatchers(expr, j)
				if err != nil {
					return nil, fmt.Errorf("after %s: %w", s.Metric, err)
				}
				s.Matchers, i = ms, end
			}
			out = append(out, s)
		case c == '(' || c == '[' || c == '{':
			if c == '{' { // a selector without a name: {__name__=...}
				return nil, fmt.Errorf("a selector without a metric name at %d", i)
			}
			stack = append(stack, c)
			i++
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != closing[c] {
				return nil, fmt.Errorf("unbalanced %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
			i++
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return out, nil
}

// skipString returns the index just after the quoted string starting at i.
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d", i)
}

// readMatchers reads {label op "value", ...} starting at the brace at i; it returns
// the matchers and the index after the closing brace.
func readMatchers(s string, i int) ([]matcher, int, error) {
	var out []matcher
	i++ // {
	skip := func() {
		for i < len(s) && strings.ContainsRune(" \t\n", rune(s[i])) {
			i++
		}
	}
	for {
		skip()
		if i < len(s) && s[i] == '}' {
			return out, i + 1, nil
		}
		start := i
		for i < len(s) && isIdentChar(s[i]) {
			i++
		}
		if start == i {
			return nil, 0, fmt.Errorf("a label name expected at %d", i)
		}
		m := matcher{Label: s[start:i]}
		skip()
		for _, op := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(s[i:], op) {
				m.Op = op
				break
			}
		}
		if m.Op == "" {
			return nil, 0, fmt.Errorf("a matcher operator expected after %s", m.Label)
		}
		i += len(m.Op)
		skip()
		if i >= len(s) || (s[i] != '"' && s[i] != '\'' && s[i] != '`') {
			return nil, 0, fmt.Errorf("a quoted value expected after %s%s", m.Label, m.Op)
		}
		end, err := skipString(s, i)
		if err != nil {
			return nil, 0, err
		}
		m.Value = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s[i+1 : end-1])
		i = end
		out = append(out, m)
		skip()
		if i < len(s) && s[i] == ',' {
			i++
		}
	}
}

// literalValues are the values a matcher names: its value for = and !=, the
// alternatives of a plain regex (a|b|c) for =~ and !~, nothing for a regex with other
// operators or a Grafana variable.
func literalValues(m matcher) []string {
	if strings.Contains(m.Value, "$") {
		return nil
	}
	if m.Op == "=" || m.Op == "!=" {
		return []string{m.Value}
	}
	for _, c := range m.Value {
		if !(c == '|' || c == '-' || c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')) {
			return nil
		}
	}
	return strings.Split(m.Value, "|")
}

// byLabels are the labels of every `by (...)` clause of expr.
func byLabels(expr string) map[string]bool {
	out := map[string]bool{}
	rest := expr
	for {
		k := strings.Index(rest, "by (")
		if k < 0 {
			return out
		}
		rest = rest[k+len("by ("):]
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return out
		}
		for _, l := range strings.Split(rest[:end], ",") {
			out[strings.TrimSpace(l)] = true
		}
	}
}

func TestSelectors(t *testing.T) {
	got, err := selectors(`sum by (a, le) (rate(scrutin_x_bucket{namespace=~"$namespace", result!~"failed|expired", q="a\"b"}[$__rate_interval])) * 60 > 0.05
		and on () max(scrutin_y) > 1e3 # scrutin_comment
		or up{job='j'} == 0 unless {x="y"}`)
	if err == nil {
		t.Fatalf("a selector without a name was accepted: %v", got)
	}
	got, err = selectors(`sum by (a, le) (rate(scrutin_x_bucket{namespace=~"$namespace", result!~"failed|expired", q="a\"b"}[$__rate_interval])) * 60 > 0.05
		and on () max(scrutin_y) > 1e3 # scrutin_comment
		or up {job='j'} == 0`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		if strings.HasPrefix(s.Metric, "scrutin_") || s.Metric == "up" {
			names = append(names, s.Metric)
		}
	}
	if want := []string{"scrutin_x_bucket", "scrutin_y", "up"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	want := []matcher{{"namespace", "=~", "$namespace"}, {"result", "!~", "failed|expired"}, {"q", "=", `a"b`}}
	for _, s := range got {
		if s.Metric == "scrutin_x_bucket" && !reflect.DeepEqual(s.Matchers, want) {
			t.Errorf("matchers %v, want %v", s.Matchers, want)
		}
		if s.Metric == "up" && !reflect.DeepEqual(s.Matchers, []matcher{{"job", "=", "j"}}) {
			t.Errorf("up's matchers: %v", s.Matchers)
		}
	}
	for _, bad := range []string{`rate(x[5m]`, `x{a="b"`, `sum(x))`, `x{a=b}`, `x{a="b}`} {
		if _, err := selectors(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if got := literalValues(matcher{"r", "!~", "already-voted|closed"}); !reflect.DeepEqual(got, []string{"already-voted", "closed"}) {
		t.Errorf("literalValues: %v", got)
	}
	if got := literalValues(matcher{"o", "=~", ".*_error"}); got != nil {
		t.Errorf("literalValues of a real regex: %v", got)
	}
	if got := byLabels("sum by (a, b) (x) / sum by (c) (y)"); !reflect.DeepEqual(got, map[string]bool{"a": true, "b": true, "c": true}) {
		t.Errorf("byLabels: %v", got)
	}
}
