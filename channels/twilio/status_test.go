package twilio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

type reports struct{ got []channels.DeliveryReport }

func (r *reports) RecordDelivery(_ context.Context, rep channels.DeliveryReport) error {
	r.got = append(r.got, rep)
	return nil
}

func TestHandleStatus(t *testing.T) {
	const path = "/webhooks/twilio/status"
	form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "MessageStatus": {"undelivered"},
		"ErrorCode": {"30001"}, "To": {"whatsapp:+218910000001"}, "From": {"whatsapp:+15555550100"},
		"AccountSid": {"AC00000000000000000000000000000000"}, "ApiVersion": {"2010-04-01"}}
	cases := []struct {
		name   string
		query  string
		sign   bool
		status int
	}{
		{"signed report", "?o=SM1%3A0&p=1", true, http.StatusNoContent},
		{"unsigned", "?o=SM1%3A0&p=1", false, http.StatusForbidden},
		{"not one of ours", "", true, http.StatusBadRequest},
	}
	cases = append(cases, struct {
		name   string
		query  string
		sign   bool
		status int
	}{"too large", "?o=SM1%3A0&p=1", true, http.StatusRequestEntityTooLarge})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &reports{}
			r := gin.New()
			r.POST(path, HandleStatus(NewVerifier(testToken, testPublicURL), rec, nil, nil))
			body := form.Encode()
			if c.status == http.StatusRequestEntityTooLarge {
				body += "&Pad=" + strings.Repeat("a", maxBody)
			}
			req := httptest.NewRequest(http.MethodPost, path+c.query, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.sign {
				req.Header.Set(twiliotest.SignatureHeader, twiliotest.Sign(testToken, testPublicURL+path+c.query, form))
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d", w.Code, c.status)
			}
			if c.status == http.StatusNoContent {
				want := channels.DeliveryReport{Channel: channels.WhatsApp, Contact: "whatsapp:+218910000001",
					OutboundID: "SM1:0", Seq: 1, Status: "undelivered", Code: 30001}
				if len(rec.got) != 1 || rec.got[0] != want {
					t.Errorf("reports %+v, want %+v", rec.got, want)
				}
			} else if len(rec.got) != 0 {
				t.Errorf("a refused callback was recorded: %+v", rec.got)
			}
		})
	}
}
