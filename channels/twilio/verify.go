package twilio

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/client"
)

const signatureHeader = "X-Twilio-Signature"

// Verifier checks that a webhook request was signed by Twilio with the account's auth
// token. It is safe for concurrent use.
type Verifier struct {
	rv    client.RequestValidator
	empty bool
	base  string
}

// NewVerifier returns a Verifier for webhooks that Twilio calls under publicURL (the
// hotline's HOTLINE_PUBLIC_URL; a trailing slash is ignored).
func NewVerifier(authToken, publicURL string) *Verifier {
	return &Verifier{
		rv: client.NewRequestValidator(authToken),
		// An empty token is a key anyone can sign with: such a Verifier accepts nothing.
		empty: authToken == "",
		base:  strings.TrimRight(publicURL, "/"),
	}
}

// URL is the address Twilio signed for r. It is built from the configured public URL
// and never from the Host header, which whoever sends the request chooses; the query
// string stays, since voice action URLs carry state in it.
func (v *Verifier) URL(r *http.Request) string {
	u := v.base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// Verify reports whether r's X-Twilio-Signature matches form, the parameters parsed
// from r's body.
func (v *Verifier) Verify(r *http.Request, form url.Values) bool {
	sig := r.Header.Get(signatureHeader)
	if v.empty || sig == "" {
		return false
	}
	// twilio-go signs only the first value of a repeated name; Twilio repeats none in
	// the webhooks handled here.
	params := make(map[string]string, len(form))
	for k, vs := range form {
		if len(vs) > 0 {
			params[k] = vs[0]
		}
	}
	return v.rv.Validate(v.URL(r), params, sig)
}
