// Package portal serves berth's single-page web portal, built by Vite into
// portal/dist and embedded in the binary.
package portal

import (
	"embed"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// dist holds the Vite build. The "all:" prefix keeps dot files, so the
// committed dist/.gitkeep lets the Go build succeed on a clone that has never
// run `make portal`.
//
//go:embed all:dist
var dist embed.FS

// serverPrefixes are paths owned by other handlers: an unknown path under
// them is a real 404, never the portal's index.html.
var serverPrefixes = []string{"/v2/", "/v2", "/graphql", "/auth/", "/service/", "/healthz", "/readyz", "/metrics"}

// notBuilt answers when the binary was built without the portal.
const notBuilt = `<!doctype html><html><head><meta charset="utf-8"><title>berth</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>berth</h1><p>This binary was built without the portal. Run <code>make build</code>
(which runs <code>make portal</code>) to include it. The registry is at <code>/v2/</code>
and the API at <a href="/graphql">/graphql</a>.</p></body></html>`

// Handler serves the portal: files from the build by path, and index.html
// for any other path (history fallback) so deep links and reloads work.
// Files under /assets/ carry a content hash in their name and are cached
// for a year; index.html is never cached so a new release shows at once.
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // unreachable: dist is embedded
	}
	return handler(root)
}

func handler(root fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		for _, p := range serverPrefixes {
			if r.URL.Path == strings.TrimSuffix(p, "/") || strings.HasPrefix(r.URL.Path, p) {
				http.NotFound(w, r)
				return
			}
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && name != "index.html" && !strings.HasPrefix(path.Base(name), ".") {
			if st, err := fs.Stat(root, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					w.Header().Set("Cache-Control", "public, max-age=3600")
				}
				http.ServeFileFS(w, r, root, name)
				return
			}
			// A missing hashed asset is a stale page asking for an old
			// release: a 404 is more honest than index.html served as JS.
			if strings.HasPrefix(name, "assets/") {
				http.NotFound(w, r)
				return
			}
		}
		serveIndex(w, r, root)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, root fs.FS) {
	w.Header().Set("Cache-Control", "no-cache")
	// The security headers (CSP, framing, sniffing, referrer) are set for
	// every response by internal/server.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	f, err := root.Open("index.html")
	if err != nil {
		io.WriteString(w, notBuilt)
		return
	}
	defer f.Close()
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, f)
}
