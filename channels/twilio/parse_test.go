package twilio

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-org/hotline/channels"
)

func TestParseMessageErrors(t *testing.T) {
	for _, tc := range []struct {
		name, payload, field string
	}{
		{"missing MessageSid", "missing_sid.form", "MessageSid"},
		{"call SID", "bad_sid.form", "MessageSid"},
		{"missing From", "missing_from.form", "From"},
		{"too many media", "too_many_media.form", "NumMedia"},
		{"whatsapp address", "whatsapp.form", "From"},
		{"latitude out of range", "whatsapp_bad_location.form", "Latitude"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form, err := url.ParseQuery(payload(t, tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			ch := channels.SMS
			if strings.HasPrefix(form.Get("From"), "whatsapp:") && tc.field != "From" {
				ch = channels.WhatsApp
			}
			_, err = ParseMessage(ch, form, testNow)
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("error %v, want a FieldError wrapping ErrInvalidMessage", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field %q, want %q", fe.Field, tc.field)
			}
		})
	}
}

func TestParseMessageMediaBounds(t *testing.T) {
	base := url.Values{"MessageSid": {"MM0123456789abcdef0123456789abcdef"}, "From": {"+15555550123"}}
	for _, tc := range []struct {
		name  string
		extra url.Values
		ok    bool
	}{
		{"declared but missing", url.Values{"NumMedia": {"1"}}, false},
		{"not a number", url.Values{"NumMedia": {"two"}}, false},
		{"negative", url.Values{"NumMedia": {"-1"}}, false},
		{"not http", url.Values{"NumMedia": {"1"}, "MediaUrl0": {"file:///etc/passwd"}}, false},
		{"ten", tenMedia(), true},
		{"more urls than declared are ignored", url.Values{"NumMedia": {"0"}, "MediaUrl0": {"https://x.example/m"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range base {
				form[k] = v
			}
			for k, v := range tc.extra {
				form[k] = v
			}
			in, err := ParseMessage(channels.SMS, form, testNow)
			if (err == nil) != tc.ok {
				t.Fatalf("error %v, want ok=%v", err, tc.ok)
			}
			if err == nil && len(in.Media) > maxMedia {
				t.Errorf("%d media", len(in.Media))
			}
		})
	}
}

func tenMedia() url.Values {
	v := url.Values{"NumMedia": {"10"}}
	for i := range 10 {
		v.Set("MediaUrl"+string(rune('0'+i)), "https://api.twilio.com/m")
	}
	return v
}

func FuzzParseMessage(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.form"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed payloads: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(joinPayload(string(b)))
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		for _, ch := range []channels.Channel{channels.SMS, channels.WhatsApp} {
			in, err := ParseMessage(ch, form, testNow)
			if err != nil {
				if !errors.Is(err, ErrInvalidMessage) {
					t.Fatalf("error %v does not wrap ErrInvalidMessage", err)
				}
				continue
			}
			if in.ID == "" || in.Contact == "" {
				t.Fatalf("parsed %+v without an ID or a contact", in)
			}
			if len(in.Media) > maxMedia {
				t.Fatalf("%d media", len(in.Media))
			}
			if l := in.Location; l != nil && (l.Lat < -90 || l.Lat > 90 || l.Lon < -180 || l.Lon > 180) {
				t.Fatalf("location out of range: %+v", l)
			}
		}
	})
}
