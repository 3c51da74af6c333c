package slackfake

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Block Kit limits Slack enforces, https://api.slack.com/reference/block-kit/blocks
// and https://api.slack.com/methods/chat.postMessage#truncating.
const (
	maxBlocks          = 50
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxHeaderText      = 150
	maxActionsElements = 25
	maxContextElements = 10
	maxButtonText      = 75
	maxButtonValue     = 2000
	maxActionID        = 255
	maxBlockID         = 255
	maxTextLen         = 40000
)

// Button is an interactive button as a message shows it.
type Button struct {
	ActionID string
	BlockID  string
	Label    string
	Value    string
	Style    string // "", "primary" or "danger"
	URL      string
}

// node is a decoded JSON object of a block or element.
type node = map[string]any

func decodeBlocks(raw json.RawMessage) []node {
	var blocks []node
	if len(raw) == 0 || json.Unmarshal(raw, &blocks) != nil {
		return nil
	}
	return blocks
}

func str(n node, k string) string {
	v, _ := n[k].(string)
	return v
}

func obj(n node, k string) node {
	v, _ := n[k].(map[string]any)
	return v
}

func list(n node, k string) []node {
	arr, _ := n[k].([]any)
	out := make([]node, 0, len(arr))
	for _, a := range arr {
		if m, ok := a.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// textOf returns a text object's text.
func textOf(n node) string {
	if n == nil {
		return ""
	}
	return str(n, "text")
}

// validateBlocks checks raw against the Block Kit limits and returns
// Slack-style error strings, or nil when the blocks are valid.
func validateBlocks(raw json.RawMessage) []string {
	var arr []any
	if err := json.Unmarshal(raw, &arr); err != nil {
		return []string{"invalid json [json-pointer:/blocks]"}
	}
	var errs []string
	fail := func(ptr, msg string, args ...any) {
		errs = append(errs, fmt.Sprintf(msg, args...)+" [json-pointer:"+ptr+"]")
	}
	if len(arr) > maxBlocks {
		fail("/blocks", "no more than %d items allowed", maxBlocks)
	}
	seen := map[string]bool{}
	for i, a := range arr {
		b, ok := a.(map[string]any)
		ptr := fmt.Sprintf("/blocks/%d", i)
		if !ok {
			fail(ptr, "must be an object")
			continue
		}
		if id := str(b, "block_id"); id != "" {
			if seen[id] {
				fail(ptr+"/block_id", "duplicate block_id")
			}
			if len(id) > maxBlockID {
				fail(ptr+"/block_id", "must be less than %d characters", maxBlockID+1)
			}
			seen[id] = true
		}
		errs = append(errs, validateBlock(b, ptr)...)
	}
	return errs
}

func validateBlock(b node, ptr string) []string {
	var errs []string
	tooLong := func(p string, s string, limit int) {
		if utf8.RuneCountInString(s) > limit {
			errs = append(errs, fmt.Sprintf("must be less than %d characters [json-pointer:%s]", limit+1, p))
		}
	}
	switch str(b, "type") {
	case "section":
		if b["text"] == nil && b["fields"] == nil {
			errs = append(errs, "must provide text or fields [json-pointer:"+ptr+"]")
		}
		tooLong(ptr+"/text/text", textOf(obj(b, "text")), maxSectionText)
		fields := list(b, "fields")
		if len(fields) > maxSectionFields {
			errs = append(errs, fmt.Sprintf("no more than %d items allowed [json-pointer:%s/fields]", maxSectionFields, ptr))
		}
		for j, f := range fields {
			tooLong(fmt.Sprintf("%s/fields/%d/text", ptr, j), textOf(f), maxFieldText)
		}
		if acc := obj(b, "accessory"); acc != nil {
			errs = append(errs, validateElement(acc, ptr+"/accessory")...)
		}
	case "header":
		t := obj(b, "text")
		if str(t, "type") != "plain_text" {
			errs = append(errs, "must be plain_text [json-pointer:"+ptr+"/text]")
		}
		tooLong(ptr+"/text/text", textOf(t), maxHeaderText)
	case "actions":
		els := list(b, "elements")
		if len(els) == 0 || len(els) > maxActionsElements {
			errs = append(errs, fmt.Sprintf("must have 1 to %d items [json-pointer:%s/elements]", maxActionsElements, ptr))
		}
		for j, e := range els {
			errs = append(errs, validateElement(e, fmt.Sprintf("%s/elements/%d", ptr, j))...)
		}
	case "context":
		els := list(b, "elements")
		if len(els) == 0 || len(els) > maxContextElements {
			errs = append(errs, fmt.Sprintf("must have 1 to %d items [json-pointer:%s/elements]", maxContextElements, ptr))
		}
	case "divider", "image", "rich_text", "input", "file", "video", "markdown":
	default:
		errs = append(errs, "unsupported type [json-pointer:"+ptr+"/type]")
	}
	return errs
}

func validateElement(e node, ptr string) []string {
	if str(e, "type") != "button" {
		return nil
	}
	var errs []string
	t := obj(e, "text")
	if str(t, "type") != "plain_text" {
		errs = append(errs, "must be plain_text [json-pointer:"+ptr+"/text]")
	}
	if n := utf8.RuneCountInString(textOf(t)); n == 0 || n > maxButtonText {
		errs = append(errs, fmt.Sprintf("must be 1 to %d characters [json-pointer:%s/text/text]", maxButtonText, ptr))
	}
	if len(str(e, "value")) > maxButtonValue {
		errs = append(errs, fmt.Sprintf("must be less than %d characters [json-pointer:%s/value]", maxButtonValue+1, ptr))
	}
	if len(str(e, "action_id")) > maxActionID {
		errs = append(errs, fmt.Sprintf("must be less than %d characters [json-pointer:%s/action_id]", maxActionID+1, ptr))
	}
	switch str(e, "style") {
	case "", "primary", "danger":
	default:
		errs = append(errs, "must be primary or danger [json-pointer:"+ptr+"/style]")
	}
	return errs
}

// buttons returns the buttons of blocks, in order.
func buttons(raw json.RawMessage) []Button {
	var out []Button
	for _, b := range decodeBlocks(raw) {
		var els []node
		switch str(b, "type") {
		case "actions":
			els = list(b, "elements")
		case "section":
			if acc := obj(b, "accessory"); acc != nil {
				els = []node{acc}
			}
		}
		for _, e := range els {
			if str(e, "type") != "button" {
				continue
			}
			out = append(out, Button{
				ActionID: str(e, "action_id"), BlockID: str(b, "block_id"),
				Label: textOf(obj(e, "text")), Value: str(e, "value"),
				Style: str(e, "style"), URL: str(e, "url"),
			})
		}
	}
	return out
}

// renderBlocks turns blocks into text lines as a person reads them.
func renderBlocks(raw json.RawMessage, names func(string) string) []string {
	var lines []string
	add := func(text string) {
		for _, l := range strings.Split(text, "\n") {
			lines = append(lines, readable(l, names))
		}
	}
	for _, b := range decodeBlocks(raw) {
		switch str(b, "type") {
		case "header":
			add("# " + textOf(obj(b, "text")))
		case "section":
			if t := textOf(obj(b, "text")); t != "" {
				add(t)
			}
			for _, f := range list(b, "fields") {
				for _, l := range strings.Split(textOf(f), "\n") {
					lines = append(lines, "  "+readable(l, names))
				}
			}
			if acc := obj(b, "accessory"); acc != nil {
				if el := renderElement(acc); el != "" {
					lines = append(lines, el)
				}
			}
		case "context":
			var parts []string
			for _, e := range list(b, "elements") {
				if str(e, "type") == "image" {
					parts = append(parts, "["+str(e, "alt_text")+"]")
					continue
				}
				parts = append(parts, str(e, "text"))
			}
			add("> " + strings.Join(parts, "  "))
		case "actions":
			var parts []string
			for _, e := range list(b, "elements") {
				if el := renderElement(e); el != "" {
					parts = append(parts, el)
				}
			}
			lines = append(lines, strings.Join(parts, "  "))
		case "divider":
			lines = append(lines, "---")
		case "image":
			lines = append(lines, "[image: "+str(b, "alt_text")+"]")
		case "rich_text", "markdown":
			add(richText(b))
		}
	}
	return lines
}

// renderElement shows an interactive element: a button as [ Label ], with
// its style when it has one.
func renderElement(e node) string {
	label := textOf(obj(e, "text"))
	switch str(e, "type") {
	case "button":
		if st := str(e, "style"); st != "" {
			return "[ " + label + " (" + st + ") ]"
		}
		return "[ " + label + " ]"
	case "overflow":
		return "[ … ]"
	case "image":
		return "[image: " + str(e, "alt_text") + "]"
	default:
		if ph := textOf(obj(e, "placeholder")); ph != "" {
			return "[ " + ph + " ▾ ]"
		}
		return "[ " + str(e, "type") + " ]"
	}
}

// richText flattens a rich_text or markdown block.
func richText(n node) string {
	if t, ok := n["text"].(string); ok && str(n, "type") != "rich_text" {
		return t
	}
	var sb strings.Builder
	var walk func(n node)
	walk = func(n node) {
		switch str(n, "type") {
		case "text":
			sb.WriteString(str(n, "text"))
		case "link":
			if t := str(n, "text"); t != "" {
				sb.WriteString(t)
			} else {
				sb.WriteString(str(n, "url"))
			}
		case "user":
			sb.WriteString("<@" + str(n, "user_id") + ">")
		case "channel":
			sb.WriteString("<#" + str(n, "channel_id") + ">")
		case "emoji":
			sb.WriteString(":" + str(n, "name") + ":")
		}
		for _, c := range list(n, "elements") {
			walk(c)
		}
		if t := str(n, "type"); t == "rich_text_section" || t == "rich_text_preformatted" ||
			t == "rich_text_quote" {
			sb.WriteString("\n")
		}
	}
	walk(n)
	return strings.TrimRight(sb.String(), "\n")
}

// readable replaces Slack's <@U…>, <#C…|name> and <url|label> markup with
// what a person sees.
func readable(s string, names func(string) string) string {
	var sb strings.Builder
	for {
		i := strings.Index(s, "<")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], ">")
		if j < 0 {
			break
		}
		sb.WriteString(s[:i])
		inner := s[i+1 : i+j]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@U") || strings.HasPrefix(target, "@W"):
			sb.WriteString("@" + names(target[1:]))
		case strings.HasPrefix(target, "#C"):
			if hasLabel {
				sb.WriteString("#" + label)
			} else {
				sb.WriteString(names(target[1:]))
			}
		case strings.HasPrefix(target, "!subteam^"):
			if hasLabel {
				sb.WriteString(label)
			} else {
				sb.WriteString("@" + strings.TrimPrefix(target, "!subteam^"))
			}
		case strings.HasPrefix(target, "!"):
			sb.WriteString("@" + strings.TrimPrefix(target, "!"))
		case hasLabel:
			sb.WriteString(label)
		default:
			sb.WriteString(target)
		}
		s = s[i+j+1:]
	}
	sb.WriteString(s)
	return unescaper.Replace(sb.String())
}

// unescaper undoes the three escapes Slack's text format uses.
var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
