package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

//go:embed page.html
var pageFS embed.FS

// pageData is what the page template needs.
type pageData struct {
	// API is the messages endpoint as mounted, so that the page works under any group.
	API string
	// Nonce lets the page's own script and style run under a strict CSP.
	Nonce string
	// CSRF is the token the page's sends carry, when the simulator is behind the
	// console's login (which checks it on every change).
	CSRF string
}

func newPage() *template.Template {
	// The template is compiled into the binary and parsed in tests: failing here is a
	// build defect, not a runtime condition.
	return template.Must(template.ParseFS(pageFS, "page.html"))
}

func handlePage(tmpl *template.Template, csrf func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		data := pageData{API: c.FullPath() + "/api/messages", Nonce: rand.Text()}
		if csrf != nil {
			data.CSRF = csrf(c)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+data.Nonce+"'; style-src 'nonce-"+data.Nonce+
			"'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
	}
}
