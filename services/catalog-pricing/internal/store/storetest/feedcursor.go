package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
)

// testFeedCursor: the price feed cursor is kept per ERP across a restart
// of the store (a new store on the same database); a save replaces the
// whole cursor, list map included.
func testFeedCursor(t *testing.T, s Stores) {
	ctx := t.Context()
	if _, ok, err := s.FeedCursors().LoadFeedCursor(ctx, "erp-a"); ok || err != nil {
		t.Fatalf("LoadFeedCursor on an empty store = %v, %v; want none", ok, err)
	}
	first := erpsync.FeedCursor{Cursor: "pe1|7", Seq: 7, Lists: map[string][]string{"PL-EUR": {"PL-EUR"}, "PL-B2B": {"PL-B2B", "PL-B2B.web"}}}
	if err := s.FeedCursors().SaveFeedCursor(ctx, "erp-a", first); err != nil {
		t.Fatal(err)
	}
	if err := s.FeedCursors().SaveFeedCursor(ctx, "erp-b", erpsync.FeedCursor{Cursor: "other", Seq: 1, Lists: map[string][]string{}}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.FeedCursors().LoadFeedCursor(ctx, "erp-a")
	if err != nil || !ok {
		t.Fatalf("LoadFeedCursor after a restart = %v, %v", ok, err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("cursor after a restart (-saved +loaded):\n%s", diff)
	}
	next := erpsync.FeedCursor{Cursor: "pe1|9", Seq: 9, Lists: map[string][]string{"PL-EUR": {"PL-EUR"}}}
	if err := s.FeedCursors().SaveFeedCursor(ctx, "erp-a", next); err != nil {
		t.Fatal(err)
	}
	got, _, err = s.FeedCursors().LoadFeedCursor(ctx, "erp-a")
	if diff := cmp.Diff(next, got); err != nil || diff != "" {
		t.Errorf("replaced cursor (-saved +loaded), %v:\n%s", err, diff)
	}
	if b, _, err := s.FeedCursors().LoadFeedCursor(ctx, "erp-b"); err != nil || b.Cursor != "other" {
		t.Errorf("the other ERP's cursor = %+v, %v", b, err)
	}
}
