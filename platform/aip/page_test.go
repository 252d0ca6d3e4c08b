package aip

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/transload/transload/platform/apierr"
)

func TestClampPageSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		requested, def, maxSize, want int32
	}{
		{0, 50, 500, 50},    // unset: the default
		{1, 50, 500, 1},     // as asked
		{499, 50, 500, 499}, // as asked
		{500, 50, 500, 500}, // the maximum itself
		{501, 50, 500, 500}, // coerced down (AIP-158)
		{1 << 30, 50, 500, 500},
		{-1, 50, 500, 50},   // rejected by protovalidate first; default if it slips through
		{0, 1000, 500, 500}, // a default above the maximum is still capped
		{0, 0, 500, 1},      // never below 1, so size+1 slicing is safe
		{7, 50, 0, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.requested, "/", tt.def, "/", tt.maxSize), func(t *testing.T) {
			t.Parallel()
			if got := ClampPageSize(tt.requested, tt.def, tt.maxSize); got != tt.want {
				t.Errorf("ClampPageSize(%d, %d, %d) = %d, want %d", tt.requested, tt.def, tt.maxSize, got, tt.want)
			}
		})
	}
}

func TestValidatePageSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int32{0, 1, 500, 1 << 30} {
		if err := ValidatePageSize(n); err != nil {
			t.Errorf("ValidatePageSize(%d) = %v", n, err)
		}
	}
	err := ValidatePageSize(-1)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("ValidatePageSize(-1) code = %v, want InvalidArgument", status.Code(err))
	}
	want := []apierr.FieldViolation{{Field: "page_size", Description: "value must be greater than or equal to 0", Reason: "INT32_GTE"}}
	if diff := cmp.Diff(want, apierr.FieldViolations(err)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

type row struct {
	ID string
	N  int64
}

func rowKey(r row) []Key { return []Key{KeyOf(r.N), KeyOf(r.ID)} }

func rows(n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{ID: fmt.Sprintf("r-%d", i), N: int64(i * 10)}
	}
	return out
}

func TestKeysetPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fetched  int
		size     int
		wantLen  int
		wantNext bool
	}{
		{"empty", 0, 3, 0, false},
		{"short last page", 2, 3, 2, false},
		{"exactly full last page", 3, 3, 3, false},
		{"one more row: next page", 4, 3, 3, true},
		{"size below 1 is 1", 2, 0, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, next := KeysetPage(rows(tt.fetched), tt.size, baseQuery, rowKey)
			if len(page) != tt.wantLen || (next != "") != tt.wantNext {
				t.Fatalf("KeysetPage(%d rows, size %d) = %d rows, next %q; want %d rows, next %v",
					tt.fetched, tt.size, len(page), next, tt.wantLen, tt.wantNext)
			}
			if next == "" {
				return
			}
			var n int64
			var id string
			if err := DecodePageToken(next, baseQuery, &n, &id); err != nil {
				t.Fatalf("DecodePageToken(next) = %v", err)
			}
			if last := page[len(page)-1]; n != last.N || id != last.ID {
				t.Errorf("next resumes after (%d, %s), want the last row (%d, %s)", n, id, last.N, last.ID)
			}
		})
	}
}

func TestOffsetPageWalksTheList(t *testing.T) {
	t.Parallel()
	items := rows(7)
	var got []row
	token, pages := "", 0
	for {
		var offset int
		if err := DecodePageToken(token, baseQuery, &offset); err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		var page []row
		page, token = OffsetPage(items, offset, 3, baseQuery)
		got = append(got, page...)
		pages++
		if token == "" || pages > 10 {
			break
		}
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	if diff := cmp.Diff(items, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
}

func TestOffsetPageBounds(t *testing.T) {
	t.Parallel()
	items := rows(5)
	tests := []struct {
		name         string
		offset, size int
		want         []row
		wantNext     bool
	}{
		{"first page", 0, 2, items[0:2], true},
		{"exact end", 3, 2, items[3:5], false},
		{"past end", 9, 2, items[5:5], false},
		{"negative offset", -4, 2, items[0:2], true},
		{"size below 1 is 1", 0, 0, items[0:1], true},
		{"huge size", 1, 1 << 40, items[1:5], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, next := OffsetPage(items, tt.offset, tt.size, baseQuery)
			if diff := cmp.Diff(tt.want, got); diff != "" || (next != "") != tt.wantNext {
				t.Errorf("OffsetPage(%d, %d) next %q, want next %v; items (-want +got):\n%s", tt.offset, tt.size, next, tt.wantNext, diff)
			}
		})
	}
}

func TestOffsetPageCarriesItsPins(t *testing.T) {
	t.Parallel()
	items := rows(5)
	_, token := OffsetPage(items, 0, 2, baseQuery, KeyOf(int64(42)))
	var version int64
	var offset int
	if err := DecodePageToken(token, baseQuery, &version, &offset); err != nil {
		t.Fatal(err)
	}
	if version != 42 || offset != 2 {
		t.Errorf("decoded version %d offset %d, want 42 and 2", version, offset)
	}
	// A decoder that forgets the pin does not fit this token.
	if err := DecodePageToken(token, baseQuery, &offset); !errors.Is(err, ErrInvalidPageToken) {
		t.Errorf("decode without the pin: %v, want ErrInvalidPageToken", err)
	}
}
