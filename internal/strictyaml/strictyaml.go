// Package strictyaml decodes YAML the way catobot reads every file a person
// writes: unknown keys are errors, and errors are said in the file's words.
package strictyaml

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode decodes raw onto v, which may hold defaults already; a key v has
// no field for is an error. An empty document leaves v as it is.
func Decode(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

var (
	unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	badDuration  = regexp.MustCompile("cannot unmarshal !!\\w+ `([^`]*)` into time.Duration")
	badType      = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into \\S+")
)

// Friendly rewrites the decoder's Go-flavoured messages in the words of
// the file: unknown keys, durations and wrong kinds of value.
func Friendly(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	msg = unknownField.ReplaceAllString(msg, "unknown key $1")
	msg = badDuration.ReplaceAllString(msg, "$1 is not a duration; write it like 30s, 5m or 1h")
	msg = badType.ReplaceAllString(msg, "$2 is the wrong kind of value ($1) for this key")
	msg = strings.ReplaceAll(msg, "yaml: unmarshal errors:\n  ", "")
	return errors.New(msg)
}
