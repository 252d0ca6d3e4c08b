package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlatformRatios(t *testing.T) {
	t.Parallel()
	const header = "| benchmark | baseline ns/op (median) | subject ns/op (median) | subject / baseline |\n|---|---:|---:|---:|\n"
	tests := []struct {
		name, in, want string
	}{
		{
			name: "median of each side",
			in: `goos: linux
BenchmarkOutbox/baseline-2   100   1000 ns/op   10 B/op   1 allocs/op
BenchmarkOutbox/baseline-2   100   3000 ns/op   10 B/op   1 allocs/op
BenchmarkOutbox/baseline-2   100   2000 ns/op   10 B/op   1 allocs/op
BenchmarkOutbox/subject-2    100   4000 ns/op   10 B/op   1 allocs/op
PASS`,
			want: header + "| BenchmarkOutbox | 2000 | 4000 | 2.00× |\n",
		},
		{
			name: "a line whose ns/op is not a number is no result",
			in: `BenchmarkOutbox/baseline-2   100   1000 ns/op
BenchmarkOutbox/subject-2    100   n/a ns/op
BenchmarkOutbox/subject-2    100   1500 ns/op
BenchmarkOutbox/subject-2    100   1600 ns/op`,
			want: header + "| BenchmarkOutbox | 1000 | 1600 | 1.60× |\n",
		},
		{
			name: "a group without a baseline is left out",
			in:   "BenchmarkCache/subject-2   100   1500 ns/op",
			want: header,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, platformRatios(tt.in)); diff != "" {
				t.Errorf("platformRatios (-want +got):\n%s", diff)
			}
		})
	}
}
