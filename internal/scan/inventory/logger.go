package inventory

import (
	"context"
	"fmt"
	"log/slog"

	scalibrlog "github.com/google/osv-scalibr/log"
)

// osv-scalibr logs through one process-wide logger, by default Go's log
// package, with a line per filesystem walk. berth sends it to slog's
// default logger instead: its info lines at debug level (they describe
// every walk), its warnings and errors as they are.
func init() { scalibrlog.SetLogger(slogAdapter{}) }

type slogAdapter struct{}

func (slogAdapter) log(level slog.Level, msg string) {
	l := slog.Default()
	if l.Enabled(context.Background(), level) {
		l.Log(context.Background(), level, msg, "component", "osv-scalibr")
	}
}

func (a slogAdapter) Errorf(format string, args ...any) {
	a.log(slog.LevelError, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Error(args ...any) { a.log(slog.LevelError, fmt.Sprint(args...)) }
func (a slogAdapter) Warnf(format string, args ...any) {
	a.log(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Warn(args ...any) { a.log(slog.LevelWarn, fmt.Sprint(args...)) }
func (a slogAdapter) Infof(format string, args ...any) {
	a.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Info(args ...any) { a.log(slog.LevelDebug, fmt.Sprint(args...)) }
func (a slogAdapter) Debugf(format string, args ...any) {
	a.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (a slogAdapter) Debug(args ...any) { a.log(slog.LevelDebug, fmt.Sprint(args...)) }
