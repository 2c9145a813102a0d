package notify

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

const (
	testSID       = "AC00000000000000000000000000000000"
	testAuthToken = "0123456789abcdef0123456789abcdef"
	testSMSFrom   = "+15555550100"
)

var dutyPhones = []string{"+447700900001", "+447700900002", "+447700900003"}

func newSMS(t *testing.T, to []string) (*SMS, *twiliotest.Server) {
	t.Helper()
	api := twiliotest.New(t, testSID, testAuthToken)
	s := twilio.NewSender(twilio.SenderConfig{AccountSID: testSID, AuthToken: testAuthToken, APIURL: api.URL(), From: testSMSFrom})
	return &SMS{To: to, Group: "duty", Sender: s}, api
}

func recipients(msgs []twiliotest.Message) []string {
	var to []string
	for _, m := range msgs {
		to = append(to, m.To)
	}
	slices.Sort(to)
	return to
}

func TestSMSOnePerNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		test bool
	}{
		{"real", false},
		{"test", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, api := newSMS(t, dutyPhones)
			a := alert()
			a.Test = tc.test
			if err := n.Notify(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			msgs := api.Messages()
			if got := recipients(msgs); !slices.Equal(got, dutyPhones) {
				t.Fatalf("texted %v, want %v", got, dutyPhones)
			}
			for _, m := range msgs {
				if m.From != testSMSFrom || m.Body != smsText(a) {
					t.Errorf("message %+v", m)
				}
				if !strings.Contains(m.Body, "HK7-QM4-XTN9") || strings.HasPrefix(m.Body, "TEST ") != tc.test {
					t.Errorf("body %q", m.Body)
				}
				if !channels.IsGSM7(m.Body) || channels.Segments(m.Body) != 1 {
					t.Errorf("body %q is not one GSM-7 segment", m.Body)
				}
			}
			// A repeat of the level is sent again.
			a.Attempt++
			if err := n.Notify(t.Context(), a); err != nil || len(api.Messages()) != 6 {
				t.Errorf("repeat: %v, %d messages, want 6", err, len(api.Messages()))
			}
		})
	}
}

func TestSMSFailuresDoNotStopOthers(t *testing.T) {
	t.Parallel()
	invalid := twiliotest.Failure{Status: http.StatusBadRequest, Code: 21211, Message: "The 'To' number +447700900002 is not a valid phone number."}
	down := twiliotest.Failure{Status: http.StatusServiceUnavailable, Message: "Service Unavailable", RetryAfter: "4"}
	for _, tc := range []struct {
		name      string
		fails     []twiliotest.Failure
		delivered int
		final     bool
	}{
		{"one invalid number", []twiliotest.Failure{invalid}, 2, true},
		{"every number invalid", []twiliotest.Failure{invalid, invalid, invalid}, 0, true},
		{"one invalid, one down", []twiliotest.Failure{invalid, down}, 1, false},
		{"one down", []twiliotest.Failure{down}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, api := newSMS(t, dutyPhones)
			// The sends run at once: which number meets which failure is up to the
			// scheduler, the counts are not.
			api.FailNext(tc.fails...)
			err := n.Notify(t.Context(), alert())
			if got := len(api.Messages()); got != tc.delivered {
				t.Errorf("%d delivered, want %d", got, tc.delivered)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if IsPermanent(err) != tc.final || e.Notifier != "sms:duty" {
				t.Errorf("got %+v, want permanent %v", e, tc.final)
			}
			if got := strings.Count(err.Error(), " of 3: "); got != len(tc.fails) {
				t.Errorf("error names %d numbers, want %d: %v", got, len(tc.fails), err)
			}
			for _, p := range dutyPhones {
				if strings.Contains(err.Error(), p) || strings.Contains(err.Error(), p[1:]) {
					t.Errorf("error shows a phone number: %v", err)
				}
			}
			var se *channels.SendError
			if !errors.As(err, &se) {
				t.Error("the provider's error is not reachable")
			}

			// Retrying texts only the numbers that missed the alert.
			retry := n.Notify(t.Context(), alert())
			if retry != nil {
				t.Fatal(retry)
			}
			if got := recipients(api.Messages()); !slices.Equal(got, dutyPhones) {
				t.Errorf("after the retry, texted %v, want each of %v once", got, dutyPhones)
			}
		})
	}
}

func TestSMSRetryAfter(t *testing.T) {
	t.Parallel()
	n, api := newSMS(t, dutyPhones[:1])
	api.FailNext(twiliotest.Failure{Status: http.StatusTooManyRequests, Code: 20429, Message: "Too Many Requests", RetryAfter: "9"})
	err := n.Notify(t.Context(), alert())
	var e *Error
	if !errors.As(err, &e) || IsPermanent(err) || e.RetryAfter.Seconds() != 9 || e.Status != http.StatusTooManyRequests {
		t.Errorf("got %+v, want a retryable 429 to wait 9 s", e)
	}
}
