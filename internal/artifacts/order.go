package artifacts

import (
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// The distribution spec lists tags and repositories in lexical order, and
// n/last pages through that order. A PostgreSQL database often has a
// linguistic collation ("en_US.UTF-8", ICU) under which "B" sorts before
// "a-b" and punctuation is ignored at first, so ORDER BY and > on the bare
// column would page in another order than the bytes, repeating or
// skipping names. These two helpers compare in byte order on every
// database: COLLATE "C" on PostgreSQL, SQLite's default BINARY collation.

// byteCollated is column in byte-order collation for s's dialect.
func byteCollated(s *sql.Selector, column string) string {
	c := s.C(column)
	if s.Dialect() == dialect.Postgres {
		c += ` COLLATE "C"`
	}
	return c
}

// orderBytes orders by column in byte order, ascending.
func orderBytes(column string) func(*sql.Selector) {
	return func(s *sql.Selector) { s.OrderExpr(sql.Expr(byteCollated(s, column))) }
}

// afterBytes keeps rows whose column sorts after last in byte order.
func afterBytes(column, last string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString(byteCollated(s, column)).WriteString(" > ").Arg(last)
		}))
	}
}
