package order

import "testing"

// TestClaimKeySplitsBack: a claim key names its channel, customer and
// request id unambiguously whatever they contain, and different callers'
// keys for one request id differ; a key of the unscoped form (stored before
// keys were scoped) is taken as a bare request id.
func TestClaimKeySplitsBack(t *testing.T) {
	t.Parallel()
	cases := []CreateParams{
		{Channel: "web", IdempotencyScope: "C0001", RequestID: "k-1"},
		{Channel: "web", IdempotencyScope: "C0002", RequestID: "k-1"},
		{Channel: "b2b", IdempotencyScope: "C0001", RequestID: "k-1"},
		{Channel: `we"b`, IdempotencyScope: `C\"1`, RequestID: `"k"` + "\x00\n"},
		{Channel: "", IdempotencyScope: "", RequestID: ""},
	}
	seen := map[string]bool{}
	for _, p := range cases {
		key := p.claimKey()
		if seen[key] {
			t.Errorf("%+v: key %q collides with another caller's", p, key)
		}
		seen[key] = true
		ch, cu, id := splitClaimKey(key)
		if ch != p.Channel || cu != p.IdempotencyScope || id != p.RequestID {
			t.Errorf("splitClaimKey(%q) = %q, %q, %q; want %q, %q, %q", key, ch, cu, id, p.Channel, p.IdempotencyScope, p.RequestID)
		}
	}
	if ch, cu, id := splitClaimKey("legacy-key"); ch != "" || cu != "" || id != "legacy-key" {
		t.Errorf("unscoped key split into %q, %q, %q", ch, cu, id)
	}
}
