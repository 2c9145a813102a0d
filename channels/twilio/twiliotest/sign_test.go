package twiliotest

import (
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"
)

func TestSignKnownVector(t *testing.T) {
	// From Twilio's request validation samples (TwilioDevEd/api-snippets).
	form := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675310"},
		"Digits":  {"1234"},
		"From":    {"+14158675310"},
		"To":      {"+18005551212"},
	}
	if got, want := Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form), "GvWf1cFY/Q7PnoempGyD5oXAezc="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestSignMatchesTwilioGo(t *testing.T) {
	form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "Body": {"مرحبا & hello=1"}, "Empty": {""}}
	params := map[string]string{}
	for k, v := range form {
		params[k] = v[0]
	}
	rv := client.NewRequestValidator("token")
	for _, u := range []string{"https://hotline.example.org/webhooks/twilio/sms", "http://127.0.0.1:8080/webhooks/twilio/voice?turn=2"} {
		if !rv.Validate(u, params, Sign("token", u, form)) {
			t.Errorf("twilio-go refuses Sign's signature for %s", u)
		}
	}
}
