package twiliotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
)

// SignatureHeader is where Twilio puts a webhook's signature.
const SignatureHeader = "X-Twilio-Signature"

// Sign computes the X-Twilio-Signature Twilio sends with a POST to url carrying form:
// base64(HMAC-SHA1(authToken, url + each parameter's name and value, sorted by name)).
// url must be exactly what Twilio was told to call, query string included.
func Sign(authToken, url string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(url))
	for _, k := range keys {
		// Twilio's own libraries sort repeated values too; webhooks rarely repeat a
		// name, but a signature must not depend on map or arrival order.
		vs := append([]string(nil), form[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
