package control_test

import (
	"net/http"
	"testing"
)

// TestFaultsLoseAnswers: loseAnswers is set and read through the control
// API (shown only while armed) and refuses a negative count.
func TestFaultsLoseAnswers(t *testing.T) {
	t.Parallel()
	h, f := newHandler(&fakeERP{})
	code, got := do(t, h, http.MethodPost, "/control/faults", `{"loseAnswers": 2}`)
	if code != http.StatusOK || got["loseAnswers"] != float64(2) || f.Get().LoseAnswers != 2 {
		t.Fatalf("POST loseAnswers = %d %v (state %+v)", code, got, f.Get())
	}
	if !f.TakeLostAnswer() || f.Get().LoseAnswers != 1 {
		t.Fatalf("after one taken: %+v", f.Get())
	}
	if code, _ := do(t, h, http.MethodPost, "/control/faults", `{"loseAnswers": -1}`); code != http.StatusBadRequest {
		t.Errorf("negative loseAnswers: %d, want 400", code)
	}
	if _, got := do(t, h, http.MethodDelete, "/control/faults", ""); got["loseAnswers"] != nil || f.Get().LoseAnswers != 0 {
		t.Errorf("after DELETE: %v (state %+v)", got, f.Get())
	}
}
