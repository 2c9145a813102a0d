package twilio

import (
	"net/http"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-5", 0},
		{"soon", 0},
		{"99999999999999999999", maxRetryAfter},
		{"9999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	} {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"The 'To' number +15005550001 is not a valid phone number.": "The 'To' number [number] is not a valid phone number.",
		"Invalid 'To' Phone Number: whatsapp:+44 7700 900123":       "Invalid 'To' Phone Number: whatsapp:[number]",
		"(555) 123-4567 and +1-555-123-4567.":                       "[number] and [number].",
		"Error 21610 at step 3":                                     "Error 21610 at step 3",
		"Attempt to send to unsubscribed recipient":                 "Attempt to send to unsubscribed recipient",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	long := redact(string(make([]byte, 1000)))
	if len(long) > maxMessage+len("…") {
		t.Errorf("redact kept %d bytes", len(long))
	}
}

// TestTargetUndoesEdge checks the host used when no API URL is configured: twilio-go
// puts TWILIO_EDGE and TWILIO_REGION into it, and the client takes them out again.
func TestTargetUndoesEdge(t *testing.T) {
	c := newRESTClient(testSID, testToken, nil, 0)
	h := &client.RequestHandler{Client: c, Edge: "sydney", Region: "au1"}
	built, err := h.BuildUrl("https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages.json")
	if err != nil {
		t.Fatal(err)
	}
	if built == "https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages.json" {
		t.Fatalf("twilio-go no longer adds the edge (%s): this test checks nothing", built)
	}
	u, err := c.target(built)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages.json"; got != want {
		t.Errorf("target(%s) = %s, want %s", built, got, want)
	}
}
