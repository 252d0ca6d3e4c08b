package sqldb

import (
	"strconv"
	"strings"
)

// Rebind rewrites the "?" placeholders of query for d. For SQLite, which
// understands "?", it returns query unchanged. For PostgreSQL it numbers
// them "$1".."$n" in order, leaving alone question marks inside string
// literals ('...'), quoted identifiers ("..."), dollar-quoted strings
// ($tag$...$tag$) and comments (-- and /* */); "??" stands for a literal
// "?", so PostgreSQL JSON operators such as ?| are written ??| in
// PostgreSQL-only queries.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := skipQuoted(query, i, c)
			b.WriteString(query[i:end])
			i = end
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query)
			} else {
				end += i + 1
			}
			b.WriteString(query[i:end])
			i = end
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				end = len(query)
			} else {
				end += i + 4
			}
			b.WriteString(query[i:end])
			i = end
		case c == '$':
			end := skipDollarQuoted(query, i)
			b.WriteString(query[i:end])
			i = end
		case c == '?' && i+1 < len(query) && query[i+1] == '?':
			b.WriteByte('?')
			i += 2
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// Rebind rewrites the "?" placeholders of query for db's dialect; see
// [Dialect.Rebind].
func (db *DB) Rebind(query string) string { return db.dialect.Rebind(query) }

// skipQuoted returns the index just past the quoted run starting at
// query[start] == q, where a doubled quote is an escaped quote. An
// unterminated run extends to the end.
func skipQuoted(query string, start int, q byte) int {
	for i := start + 1; i < len(query); i++ {
		if query[i] == q {
			if i+1 < len(query) && query[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(query)
}

// skipDollarQuoted returns the index just past the dollar-quoted string
// starting at query[start] == '$', or start+1 when the '$' does not open
// one (for example a "$1" placeholder).
func skipDollarQuoted(query string, start int) int {
	j := start + 1
	for j < len(query) && (query[j] == '_' || isAlnum(query[j])) {
		j++
	}
	if j >= len(query) || query[j] != '$' || (j > start+1 && isDigit(query[start+1])) {
		return start + 1
	}
	tag := query[start : j+1]
	end := strings.Index(query[j+1:], tag)
	if end < 0 {
		return len(query)
	}
	return j + 1 + end + len(tag)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
