package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/platform/fingerprint"
)

func valid() Product {
	return Product{SKU: "SKU-1", Title: "Drill", BaseUnit: "EA", Status: StatusActive, Channels: []string{"web"},
		Category: "tools/drills", GTIN: "4006381333931", Attributes: []Attribute{{Key: "colour", Value: "red"}}}
}

func TestProductValidate(t *testing.T) {
	cases := map[string]struct {
		mutate func(*Product)
		field  string
	}{
		"valid":             {func(*Product) {}, ""},
		"bad sku":           {func(p *Product) { p.SKU = "has space" }, "product.name"},
		"empty title":       {func(p *Product) { p.Title = "" }, "product.title"},
		"long title":        {func(p *Product) { p.Title = strings.Repeat("é", 201) }, "product.title"},
		"bad category":      {func(p *Product) { p.Category = "tools//drills" }, "product.category"},
		"lower base unit":   {func(p *Product) { p.BaseUnit = "ea" }, "product.base_unit"},
		"negative pack":     {func(p *Product) { p.PackSize = -1 }, "product.pack_size"},
		"no status":         {func(p *Product) { p.Status = StatusUnspecified }, "product.status"},
		"bad channel":       {func(p *Product) { p.Channels = []string{"web", "Web"} }, "product.channels[1]"},
		"duplicate channel": {func(p *Product) { p.Channels = []string{"web", "web"} }, "product.channels[1]"},
		"bad gtin":          {func(p *Product) { p.GTIN = "12" }, "product.gtin"},
		"bad attribute key": {func(p *Product) { p.Attributes = []Attribute{{Key: "Colour", Value: "x"}} }, "product.attributes[0].key"},
		"empty attribute":   {func(p *Product) { p.Attributes = []Attribute{{Key: "colour"}} }, "product.attributes[0].value"},
		"duplicate key":     {func(p *Product) { p.Attributes = append(p.Attributes, Attribute{Key: "colour", Value: "b"}) }, "product.attributes[1].key"},
		"negative weight":   {func(p *Product) { p.WeightGrams = -5 }, "product.weight_grams"},
		"no channels is ok": {func(p *Product) { p.Channels = nil }, ""},
		"empty category ok": {func(p *Product) { p.Category = "" }, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := valid()
			c.mutate(&p)
			err := p.Validate()
			var fe *FieldError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
				t.Fatalf("err = %v, want field %s", err, c.field)
			}
		})
	}
}

func TestEtag(t *testing.T) {
	a, b := valid(), valid()
	b.UpdateTime = b.UpdateTime.AddDate(1, 0, 0)
	if a.ComputeEtag() != b.ComputeEtag() {
		t.Error("update time must not change the etag")
	}
	b.PackSize = 1 // 0 means 1
	if a.ComputeEtag() != b.ComputeEtag() {
		t.Error("pack size 0 and 1 are the same content")
	}
	b.Title = "Other"
	if a.ComputeEtag() == b.ComputeEtag() {
		t.Error("a content change must change the etag")
	}
}

func TestVersionRefAdmits(t *testing.T) {
	cases := []struct {
		ref     VersionRef
		version int64
		want    bool
	}{
		{VersionRef{Kind: RefCurrent}, 3, true},
		{VersionRef{Kind: RefCurrent}, DraftVersion, false},
		{VersionRef{Kind: RefDraft}, DraftVersion, true},
		{VersionRef{Kind: RefDraft}, 3, false},
		{VersionRef{Kind: RefNumber, Number: 3}, 3, true},
		{VersionRef{Kind: RefNumber, Number: 3}, 4, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s on %d", c.ref, c.version), func(t *testing.T) {
			if got := c.ref.Admits(c.version); got != c.want {
				t.Errorf("Admits = %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseVersionRef(t *testing.T) {
	for in, want := range map[string]VersionRef{
		"": {Kind: RefCurrent}, "catalogVersions/current": {Kind: RefCurrent}, "catalogVersions/draft": {Kind: RefDraft},
		"catalogVersions/42": {Kind: RefNumber, Number: 42},
	} {
		got, err := ParseVersionRef(in)
		if err != nil || got != want {
			t.Errorf("ParseVersionRef(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"catalogVersions/0", "catalogVersions/x", "versions/1"} {
		if _, err := ParseVersionRef(in); err == nil {
			t.Errorf("ParseVersionRef(%q) accepted", in)
		}
	}
}

func TestChecksumAndDiff(t *testing.T) {
	prev := []Digest{{SKU: "A", Etag: "1"}, {SKU: "B", Etag: "1"}, {SKU: "C", Etag: "1"}}
	next := []Digest{{SKU: "D", Etag: "1"}, {SKU: "B", Etag: "2"}, {SKU: "A", Etag: "1"}}
	added, changed, removed, skus := Diff(prev, next)
	if added != 1 || changed != 1 || removed != 1 || !cmp.Equal(skus, []string{"B", "C", "D"}) {
		t.Fatalf("Diff = %d %d %d %v", added, changed, removed, skus)
	}
	shuffled := []Digest{prev[2], prev[0], prev[1]}
	if Checksum(prev) != Checksum(shuffled) {
		t.Error("checksum must not depend on order")
	}
	if Checksum(prev) == Checksum(next) {
		t.Error("different contents, same checksum")
	}
}

// TestDigestsAreStable pins the digests clients hold (product etags,
// version checksums) and the request hashes stored in the idempotency
// table to the values computed before they moved to platform/fingerprint:
// a change here breaks etag checks and replays across a deploy.
func TestDigestsAreStable(t *testing.T) {
	p := Product{SKU: "SKU-1", Title: "Drill", BaseUnit: "EA", Status: StatusActive, Channels: []string{"web", "b2b"},
		Category: "tools/drills", Attributes: []Attribute{{Key: "colour", Value: "red"}}, UpdateTime: time.Unix(5, 0)}
	import1 := ImportRequest{RequestID: "r", Source: "s", Mode: ModeUpsert, Rows: []ImportRow{{RowNumber: 1, Product: p}}}
	for name, c := range map[string]struct{ got, want string }{
		"product etag": {p.ComputeEtag(), "c1f283e5aca8f7c0759d89ed8453bba2"},
		"import hash":  {fingerprint.Of(import1), "e871271721cbb3f19884bbff6a9a28c0d701a298da3ad7f49dd00d3d087e5d2c"},
		"version checksum": {Checksum([]Digest{{SKU: "B", Etag: "2"}, {SKU: "A", Etag: "1"}}),
			"9e77383b43b40c89898e1371657a89957bbcd62c6d8f3fcece62af59623ef3d1"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", name, c.got, c.want)
		}
	}
}
