package terraform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/thinktank/catobot/actions"
)

// Limits on what a person may pass as a variable. Values are plain words, numbers, booleans or
// lists of them, as the runbook writes them; nothing that Terraform would evaluate as an
// expression with references, functions or templates.
const (
	maxVars     = 20
	maxVarValue = 512
)

var (
	// nameRe is an HCL identifier, the form a Terraform variable name takes.
	nameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
	// bareRe is a plain value: a number, a boolean or a word such as cache.r7g.2xlarge or
	// eu-west-1. Terraform reads it as the variable's type needs.
	bareRe = regexp.MustCompile(`^[A-Za-z0-9._:/@+-]+$`)
	// elemRe is one element of a list: a quoted string without escapes or templates, a
	// number or a boolean.
	elemRe = regexp.MustCompile(`^(?:"[A-Za-z0-9._:/@+ -]*"|-?[0-9]+(?:\.[0-9]+)?|true|false)$`)
)

// smartQuotes are the typographic quotes chat clients put in place of straight ones.
var smartQuotes = strings.NewReplacer("\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u2033", `"`)

// variable is one -var name=value a plan passes to Terraform.
type variable struct {
	Name  string
	Value string
}

// String returns the variable as Terraform's -var flag takes it.
func (v variable) String() string { return v.Name + "=" + v.Value }

// parseVars reads name=value words as typed after "apply terraform". A list written with
// spaces, such as replica_regions=["eu-west-1", "ap-northeast-1"], arrives as several words
// and is joined back together. Errors are *actions.Error of kind KindUsage.
func parseVars(args []string) ([]variable, error) {
	var words []string
	for _, a := range args {
		a = smartQuotes.Replace(a)
		n := len(words)
		if n > 0 && !strings.Contains(a, "=") && strings.Count(words[n-1], "[") >
			strings.Count(words[n-1], "]") {
			words[n-1] += " " + a
			continue
		}
		words = append(words, a)
	}
	if len(words) > maxVars {
		return nil, actions.Usagef("too many variables (%d); at most %d in one step", len(words), maxVars)
	}

	seen := map[string]bool{}
	vars := make([]variable, 0, len(words))
	for _, w := range words {
		name, value, ok := strings.Cut(w, "=")
		if !ok {
			return nil, actions.Usagef("%q is not name=value; write variables like "+
				"shadow_self_min_instances=50", clip(w))
		}
		if !nameRe.MatchString(name) {
			return nil, actions.Usagef("%q is not a Terraform variable name (letters, digits, _ and -, "+
				"starting with a letter or _)", clip(name))
		}
		if seen[name] {
			return nil, actions.Usagef("variable %s is given twice", name)
		}
		seen[name] = true
		if err := checkValue(name, value); err != nil {
			return nil, err
		}
		vars = append(vars, variable{Name: name, Value: value})
	}
	return vars, nil
}

// checkValue accepts a plain value or a list of plain values.
func checkValue(name, value string) error {
	switch {
	case value == "":
		return actions.Usagef("variable %s has no value; write %s=VALUE", name, name)
	case len(value) > maxVarValue:
		return actions.Usagef("the value of %s is too long (%d characters, at most %d)", name,
			len(value), maxVarValue)
	case bareRe.MatchString(value):
		return nil
	case strings.HasPrefix(value, `"`):
		return actions.Usagef("write the value of %s without quotes: Terraform would keep them as "+
			"part of the text", name)
	case strings.HasPrefix(value, "[") && strings.HasSuffix(value, "]"):
		inner := strings.TrimSpace(value[1 : len(value)-1])
		if inner == "" {
			return nil
		}
		for _, e := range strings.Split(strings.TrimSuffix(inner, ","), ",") {
			if !elemRe.MatchString(strings.TrimSpace(e)) {
				return actions.Usagef("the list given for %s may hold only quoted words, numbers and "+
					`true/false, like ["eu-west-1","ap-northeast-1"]; %q is not one`, name,
					clip(strings.TrimSpace(e)))
			}
		}
		return nil
	}
	return actions.Usagef("the value of %s may be a word, a number, true/false or a list like "+
		`["eu-west-1","ap-northeast-1"]; %q has other characters`, name, clip(value))
}

// clip shortens text quoted back to the person.
func clip(s string) string {
	const n = 60
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// assignedNames returns the names a variable file assigns, in order: the top-level attributes
// of an HCL file, or the keys of a .tfvars.json object.
func assignedNames(name string, src []byte) ([]string, error) {
	if strings.HasSuffix(name, ".json") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(src, &m); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		return names, nil
	}
	names, err := hclAttributes(src)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return names, nil
}

// errUnbalanced reports a variable file whose brackets, quotes or comments do not close.
var errUnbalanced = errors.New("unbalanced brackets, quotes or comments")

// hclAttributes scans HCL native syntax for the names of its top-level attributes
// (name = value at bracket depth 0). It knows strings, comments and heredocs well enough for
// variable files, which hold only literal values.
func hclAttributes(src []byte) ([]string, error) {
	var names []string
	depth := 0
	lineStart := true
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			lineStart = true
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case c == '#' || c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := bytes.Index(src[i+2:], []byte("*/"))
			if end < 0 {
				return nil, errUnbalanced
			}
			i += 2 + end + 2
			continue
		case c == '"':
			j, err := skipString(src, i)
			if err != nil {
				return nil, err
			}
			i, lineStart = j, false
			continue
		case c == '<' && bytes.HasPrefix(src[i:], []byte("<<")):
			j, err := skipHeredoc(src, i)
			if err != nil {
				return nil, err
			}
			i, lineStart = j, false
			continue
		case c == '{' || c == '[' || c == '(':
			depth++
		case c == '}' || c == ']' || c == ')':
			depth--
			if depth < 0 {
				return nil, errUnbalanced
			}
		case depth == 0 && lineStart && isIdentStart(c):
			j := i
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			k := j
			for k < len(src) && (src[k] == ' ' || src[k] == '\t') {
				k++
			}
			if k < len(src) && src[k] == '=' && (k+1 >= len(src) || src[k+1] != '=') {
				names = append(names, string(src[i:j]))
			}
			i, lineStart = j, false
			continue
		}
		lineStart = false
		i++
	}
	if depth != 0 {
		return nil, errUnbalanced
	}
	return names, nil
}

// skipString returns the index after the quoted string starting at src[i].
func skipString(src []byte, i int) (int, error) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		case '\n':
			return 0, errUnbalanced
		}
	}
	return 0, errUnbalanced
}

// skipHeredoc returns the index after the heredoc (<<EOT or <<-EOT) starting at src[i].
func skipHeredoc(src []byte, i int) (int, error) {
	j := i + 2
	if j < len(src) && src[j] == '-' {
		j++
	}
	k := j
	for k < len(src) && isIdentPart(src[k]) {
		k++
	}
	marker := string(src[j:k])
	nl := bytes.IndexByte(src[k:], '\n')
	if marker == "" || nl < 0 {
		return 0, errUnbalanced
	}
	pos := k + nl + 1
	for pos <= len(src) {
		end := bytes.IndexByte(src[pos:], '\n')
		line := src[pos:]
		next := len(src)
		if end >= 0 {
			line, next = src[pos:pos+end], pos+end
		}
		if strings.TrimSpace(string(line)) == marker {
			return next, nil
		}
		if end < 0 {
			break
		}
		pos = next + 1
	}
	return 0, errUnbalanced
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c == '-' || c >= '0' && c <= '9'
}
