package portal

import (
	"io"
	"io/fs"
	"net/http"
)

// graphiqlNotBuilt answers GET /graphql from a browser when the binary was
// built without the portal, which also builds GraphiQL.
const graphiqlNotBuilt = `<!doctype html><html><head><meta charset="utf-8"><title>berth GraphQL</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>berth GraphQL</h1><p>This binary was built without the portal, which includes GraphiQL.
Run <code>make build</code> to include it. The API itself answers POST requests at
<code>/graphql</code>.</p></body></html>`

// GraphiQL serves the GraphiQL page, a second entry of the portal's Vite
// build (portal/graphiql.html). Its scripts, styles, fonts and editor
// workers are files of the build under /assets/, served by Handler, so the
// page loads nothing from elsewhere and runs no inline script.
func GraphiQL() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // unreachable: dist is embedded
	}
	return graphiql(root)
}

func graphiql(root fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		f, err := root.Open("graphiql.html")
		if err != nil {
			io.WriteString(w, graphiqlNotBuilt)
			return
		}
		defer f.Close()
		if r.Method == http.MethodHead {
			return
		}
		io.Copy(w, f)
	})
}
