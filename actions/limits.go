package actions

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits are a component's guardrails on the values a step may set.
type Limits struct {
	// Min and Max bound the new value.
	Min int64 `yaml:"min" json:"min"`
	Max int64 `yaml:"max" json:"max"`
	// MaxFactorUp and MaxFactorDown bound one step's change relative to
	// the current value: by default ×4 up and ÷2 down, which catches a
	// typed extra zero. A step beyond them needs approval.
	MaxFactorUp   float64 `yaml:"max_factor_up" json:"max_factor_up"`
	MaxFactorDown float64 `yaml:"max_factor_down" json:"max_factor_down"`
	// Cooldown is how long after a change the next one needs approval.
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"`
}

// WithDefaults fills unset relative limits with ×4 up and ÷2 down.
func (l Limits) WithDefaults() Limits {
	if l.MaxFactorUp == 0 {
		l.MaxFactorUp = 4
	}
	if l.MaxFactorDown == 0 {
		l.MaxFactorDown = 2
	}
	return l
}

// Validate checks the limits themselves; errors name the YAML keys.
func (l Limits) Validate() error {
	switch {
	case l.Min < 0:
		return fmt.Errorf("min must not be negative, got %d", l.Min)
	case l.Max < l.Min:
		return fmt.Errorf("max (%d) must not be below min (%d)", l.Max, l.Min)
	case l.MaxFactorUp != 0 && l.MaxFactorUp < 1:
		return fmt.Errorf("max_factor_up must be at least 1, got %g", l.MaxFactorUp)
	case l.MaxFactorDown != 0 && l.MaxFactorDown < 1:
		return fmt.Errorf("max_factor_down must be at least 1, got %g", l.MaxFactorDown)
	case l.Cooldown < 0:
		return fmt.Errorf("cooldown must not be negative, got %s", l.Cooldown)
	}
	return nil
}

// Beyond says, in words, how a change from one value to another goes past
// the relative limits, or returns "" when it stays within them.
func (l Limits) Beyond(from, to int64) string {
	l = l.WithDefaults()
	switch {
	case from > 0 && float64(to) > float64(from)*l.MaxFactorUp:
		return fmt.Sprintf("%d → %d is more than ×%g in one step", from, to, l.MaxFactorUp)
	case to < from && float64(to) < float64(from)/l.MaxFactorDown:
		return fmt.Sprintf("%d → %d is more than ÷%g in one step", from, to, l.MaxFactorDown)
	}
	return ""
}

// ParseNamed parses arguments of the form key=N, such as read=100
// write=50, where limits holds the bounds of each key allowed and unit
// names what N counts. Each key may be given once; at least one must be.
// Errors are *Error of kind KindUsage and end with usage where the
// arguments' form was wrong.
func ParseNamed(
	args []string,
	limits map[string]Limits,
	unit, usage string,
) (map[string]int64, error) {
	keys := slices.Sorted(maps.Keys(limits))
	for i, k := range keys {
		keys[i] = k + "=N"
	}
	want := map[string]int64{}
	for _, arg := range args {
		key, val, ok := strings.Cut(strings.ToLower(strings.TrimSpace(arg)), "=")
		lim, known := limits[key]
		if !ok || !known {
			return nil, Usagef("%q is not %s; %s", arg, strings.Join(keys, " or "), usage)
		}
		if _, dup := want[key]; dup {
			return nil, Usagef("%s is given twice; %s", key, usage)
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || strings.HasPrefix(val, "+") {
			return nil, Usagef("%s=%s is not a whole number of %s", key, val, unit)
		}
		switch {
		case n < lim.Min:
			return nil, Usagef("%s=%d is below the lowest allowed, %d", key, n, lim.Min)
		case n > lim.Max:
			return nil, Usagef("%s=%d is above the highest allowed, %d", key, n, lim.Max)
		}
		want[key] = n
	}
	if len(want) == 0 {
		return nil, Usagef("%s", usage)
	}
	return want, nil
}
