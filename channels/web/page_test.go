package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		group string
		api   string
	}{
		{name: "at the root", group: "/", api: `data-api="/simulator/api/messages"`},
		{name: "under a group", group: "/ops", api: `data-api="/ops/simulator/api/messages"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := gin.New()
			Mount(r.Group(tt.group), Config{Enqueuer: &recorder{}})
			w := do(r, http.MethodGet, strings.TrimSuffix(tt.group, "/")+"/simulator", "")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("content type %q", ct)
			}
			body := w.Body.String()
			for _, want := range []string{
				"Simulator — conversations here are tests: nothing is sent to real phones and no real alert is raised.",
				`dir="auto"`,
				`<label for="text"`,
				"New conversation",
				tt.api,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			csp := w.Header().Get("Content-Security-Policy")
			_, nonce, _ := strings.Cut(csp, "script-src 'nonce-")
			nonce, _, _ = strings.Cut(nonce, "'")
			if nonce == "" || !strings.Contains(body, `<script nonce="`+nonce+`">`) {
				t.Errorf("script nonce does not match CSP %q", csp)
			}
		})
	}
}
