package awsfake_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/thinktank/catobot/fakes/awsfake"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fail  awsfake.Failure
		clear bool
		want  []bool // whether each call fails
	}{
		{name: "twice", fail: awsfake.Failure{Code: "Throttling", Times: 2}, want: []bool{true, true, false}},
		{name: "until cleared", fail: awsfake.Failure{Code: "Throttling"}, want: []bool{true, true, true}},
		{name: "cleared", fail: awsfake.Failure{Code: "Throttling"}, clear: true, want: []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fs awsfake.Faults
			fs.Fail("Op", tt.fail)
			if tt.clear {
				fs.ClearFailures()
			}
			for i, want := range tt.want {
				fl, ok := fs.Take("Op")
				require.Equal(t, want, ok, "call %d", i)
				if ok {
					require.Equal(t, http.StatusBadRequest, fl.Status)
					require.Equal(t, tt.fail.Code, fl.Code)
				}
			}
			_, ok := fs.Take("Other")
			require.False(t, ok)
		})
	}
}
