package kpi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// MaxExpositionBytes bounds one scrape's body; a larger exposition fails
// rather than filling the ops process's memory.
const MaxExpositionBytes = 32 << 20

// acceptHeader asks for the text format (every Transload admin endpoint
// serves it through promhttp).
const acceptHeader = `text/plain;version=0.0.4;q=1,*/*;q=0.1`

// ErrScrape is wrapped by every Scrape failure.
var ErrScrape = errors.New("kpi: scrape")

// Scrape fetches url (a Prometheus /metrics endpoint) with client and
// parses the exposition. Errors wrap ErrScrape: the request failed, the
// status was not 200, the body exceeded MaxExpositionBytes or did not
// parse.
func Scrape(ctx context.Context, client *http.Client, url string) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScrape, url, err)
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScrape, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: status %d", ErrScrape, url, resp.StatusCode)
	}
	body := &capped{r: resp.Body, left: MaxExpositionBytes}
	fams, err := Parse(body, expfmt.ResponseFormat(resp.Header))
	if body.over {
		return nil, fmt.Errorf("%w: %s: exposition larger than %d bytes", ErrScrape, url, MaxExpositionBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScrape, url, err)
	}
	return fams, nil
}

// Parse reads an exposition in format (FmtUnknown is read as text) until
// its end.
func Parse(r io.Reader, format expfmt.Format) ([]*dto.MetricFamily, error) {
	if format.FormatType() == expfmt.TypeUnknown {
		format = expfmt.NewFormat(expfmt.TypeTextPlain)
	}
	dec := expfmt.NewDecoder(r, format)
	var out []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		err := dec.Decode(f)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse exposition: %w", err)
		}
		out = append(out, f)
	}
}

// capped is an io.Reader that stops after left bytes and remembers that
// the source had more.
type capped struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
