package rest

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// DefaultCompressMinBytes is the response size from which REST answers
// are gzipped for clients that accept it: below about 1 KiB the gzip
// header and the CPU cost outweigh the bytes saved.
const DefaultCompressMinBytes = 1024

// acceptsGzip reports whether an Accept-Encoding header allows gzip: it
// is listed (or "*" is) with a q-value above zero.
func acceptsGzip(header string) bool {
	gzipQ, starQ := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					f = 0
				}
				q = f
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "gzip", "x-gzip":
			gzipQ = q
		case "*":
			starQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// gzipWriters hold writers at gzip.BestSpeed: REST answers are a few KiB
// of JSON, where the default level cost about 40 % more CPU per answer,
// and more to rebuild a writer the pool lost, for about 4 % fewer bytes.
var gzipWriters = sync.Pool{New: func() any {
	w, err := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	if err != nil {
		panic(err) // BestSpeed is a valid level
	}
	return w
}}

// gzipWriter holds back a response until it reaches min bytes, then
// sends it gzipped; a shorter response goes out as it is when finish is
// called.
type gzipWriter struct {
	http.ResponseWriter
	min     int
	status  int
	buf     []byte
	decided bool
	gz      *gzip.Writer
}

func newGzipWriter(w http.ResponseWriter, min int) *gzipWriter {
	return &gzipWriter{ResponseWriter: w, min: min}
}

// WriteHeader holds the status back until the size is known; answers
// without a body pass at once.
func (g *gzipWriter) WriteHeader(code int) {
	if g.decided || g.status != 0 {
		return
	}
	g.status = code
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		g.decided = true
		g.ResponseWriter.WriteHeader(code)
	}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if g.decided {
		if g.gz != nil {
			return g.gz.Write(p)
		}
		return g.ResponseWriter.Write(p)
	}
	g.buf = append(g.buf, p...)
	if len(g.buf) < g.min {
		return len(p), nil
	}
	g.decided = true
	h := g.Header()
	if h.Get("Content-Encoding") != "" {
		return len(p), g.flushPlain()
	}
	h.Set("Content-Encoding", "gzip")
	h.Del("Content-Length")
	g.ResponseWriter.WriteHeader(g.status)
	g.gz = gzipWriters.Get().(*gzip.Writer)
	g.gz.Reset(g.ResponseWriter)
	if _, err := g.gz.Write(g.buf); err != nil {
		return 0, err
	}
	g.buf = nil
	return len(p), nil
}

func (g *gzipWriter) flushPlain() error {
	if g.status != 0 {
		g.ResponseWriter.WriteHeader(g.status)
	}
	_, err := g.ResponseWriter.Write(g.buf)
	g.buf = nil
	return err
}

// finish sends what is held back and closes the gzip stream.
func (g *gzipWriter) finish() error {
	if !g.decided {
		g.decided = true
		return g.flushPlain()
	}
	if g.gz == nil {
		return nil
	}
	err := g.gz.Close()
	g.gz.Reset(nil)
	gzipWriters.Put(g.gz)
	g.gz = nil
	return err
}

// Unwrap lets http.ResponseController reach the connection.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
