package database

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
)

// SQLite's driver prepares every statement it runs and finalizes it after:
// parsing and planning the same few dozen statements again took 22% of
// the CPU of manifest pushes on SQLite (more for an INSERT into tags,
// whose full-text triggers are compiled into it). cachingConnector keeps
// each connection's prepared statements by their text, as PostgreSQL's
// pgx does, and runs a query on the statement it prepared before.

// Bounds of a connection's statement cache: statements longer than
// maxCachedSQL (a bulk insert of a thousand rows, seldom run twice with
// the same row count) are prepared for the one run, and a connection keeps
// at most maxCachedStmts, the least recently used going first.
const (
	maxCachedStmts = 128
	maxCachedSQL   = 4 << 10
)

// cachingConnector opens connections of drv to dsn with a statement cache.
type cachingConnector struct {
	drv driver.Driver
	dsn string
}

// openCachingSQLite opens a pool on the SQLite driver registered as
// "sqlite" whose connections cache their statements.
func openCachingSQLite(dsn string) (*sql.DB, error) {
	probe, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	probe.Close()
	return sql.OpenDB(cachingConnector{drv: drv, dsn: dsn}), nil
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	full, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, errors.New("database: the SQLite driver's connections lack an interface the statement cache forwards")
	}
	return &cachingConn{sqliteConn: full, byText: map[string]*list.Element{}, order: list.New()}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what database/sql uses of the driver's connections; the
// cache overrides QueryContext, ExecContext and Close and passes the rest.
type sqliteConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is a connection with its statements by text. database/sql
// uses a connection from one goroutine at a time; a statement is marked
// busy while its rows are open, and a query of the same text meanwhile (a
// query run while iterating another's rows) gets a statement of its own.
type cachingConn struct {
	sqliteConn
	byText map[string]*list.Element // of *cachedStmt
	order  *list.List               // most recently used first
}

type cachedStmt struct {
	text    string
	stmt    driver.Stmt
	busy    bool
	evicted bool // closed when its rows close
}

// stmt returns the cached statement for query, preparing it if needed,
// or nil when query is not to be cached or its statement is busy.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if len(query) > maxCachedSQL {
		return nil, nil
	}
	if e, ok := c.byText[query]; ok {
		c.order.MoveToFront(e)
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{text: query, stmt: st}
	c.byText[query] = c.order.PushFront(cs)
	for c.order.Len() > maxCachedStmts {
		old := c.order.Back()
		c.order.Remove(old)
		o := old.Value.(*cachedStmt)
		delete(c.byText, o.text)
		if o.busy {
			o.evicted = true
		} else {
			o.stmt.Close()
		}
	}
	return cs, nil
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, stmt: cs}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) Close() error {
	for e := c.order.Front(); e != nil; e = e.Next() {
		e.Value.(*cachedStmt).stmt.Close()
	}
	c.byText, c.order = nil, nil
	return c.sqliteConn.Close()
}

// cachedRows frees its statement for the next query when closed.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.stmt.busy = false
	if r.stmt.evicted {
		r.stmt.stmt.Close()
	}
	return err
}

// The column-type methods of the driver's rows, which database/sql's
// ColumnTypes (and ent's scanning of aggregates) asks for.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
