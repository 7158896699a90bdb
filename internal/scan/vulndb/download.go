package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/egress"
)

// Downloads: an import source that is an http(s) URL is fetched into a
// temporary file first and imported from there, so that a download that
// fails (a status other than 200, a timeout, a body cut short or over the
// bound) writes nothing. What the file is, a zip export or one JSON
// record, is told by its first bytes, never by the Content-Type.
//
// The client is egress's with private addresses allowed: a URL to import
// is named by whoever runs `berth vulndb import` (with the database's
// credentials) or configures --vulndb-url, trusted like the rest of the
// configuration, and an offline installation's mirror of the osv.dev
// exports is usually on the internal network. It honours HTTPS_PROXY and
// NO_PROXY.
const (
	// MaxDownloadSize bounds the body of one URL: the largest zip export
	// an import accepts, so nothing is downloaded only to be refused.
	MaxDownloadSize = MaxArchiveSize
	// DownloadTimeout bounds one download, from the request to the last
	// byte.
	DownloadTimeout = 30 * time.Minute
)

// importOptions are the knobs of an import that a caller of Import never
// needs: the refresh job's temporary directory, and tests' small bounds.
type importOptions struct {
	tempDir     string // for downloads; "" is os.TempDir()
	maxDownload int64  // 0 is MaxDownloadSize
	client      *http.Client
}

// IsURL reports whether an import source is an http(s) URL rather than a
// path.
func IsURL(source string) bool {
	s := strings.ToLower(source)
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// Redact is a URL as logs and errors show it: without a password or a
// query, which may hold a token (a presigned URL's signature).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(a malformed URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	u.Fragment, u.RawFragment = "", ""
	return u.Redacted()
}

// download fetches rawURL into a new temporary file and returns its path;
// the caller removes it. On any error nothing is left behind.
func download(ctx context.Context, o importOptions, rawURL string) (string, error) {
	name := Redact(rawURL)
	limit := o.maxDownload
	if limit <= 0 {
		limit = MaxDownloadSize
	}
	hc := o.client
	if hc == nil {
		hc = egress.NewClient(egress.Options{AllowPrivate: true, Timeout: DownloadTimeout})
	}
	ctx, cancel := context.WithTimeout(ctx, DownloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", name, quiet(err))
	}
	req.Header.Set("Accept", "application/zip, application/json;q=0.9, */*;q=0.1")
	req.Header.Set("User-Agent", "berth-vulndb")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", name, quiet(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading %s: the server answered %s", name, resp.Status)
	}
	if resp.ContentLength > limit {
		return "", fmt.Errorf("downloading %s: %d bytes, more than the %d an import accepts", name, resp.ContentLength, limit)
	}
	f, err := os.CreateTemp(o.tempDir, "vulndb-*.download")
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		err = fmt.Errorf("downloading %s: after %d bytes: %w", name, n, quiet(err))
	case n > limit:
		err = fmt.Errorf("downloading %s: more than the %d bytes an import accepts", name, limit)
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		err = fmt.Errorf("downloading %s: %d of %d bytes arrived", name, n, resp.ContentLength)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("downloading %s: %w", name, cerr)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// quiet drops the *url.Error around a client's error: it repeats the
// URL, query and all, which the caller names redacted.
func quiet(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
