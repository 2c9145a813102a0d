package notify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels/telegram/telegramtest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

func names(l Levels) [][]string {
	out := make([][]string, len(l))
	for i, ns := range l {
		out[i] = []string{}
		for _, n := range ns {
			out[i] = append(out[i], n.Name())
		}
	}
	return out
}

func fullConfig() Config {
	return Config{
		WebhookURL: "https://pager.example.org/hotline", WebhookSecret: testSecret,
		TelegramToken: testBotToken, TelegramChat: testGroup,
		TwilioAccountSID: testSID, TwilioAuthToken: testAuthToken, SMSFrom: testSMSFrom,
		DutySMS: dutyPhones[:2], BackupSMS: dutyPhones[2:], SupervisorSMS: []string{"+33612345678"},
		ConsoleURL: "https://hotline.example.org/console",
	}
}

func TestFromConfigLevels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want [][]string
	}{
		{"everything", func(*Config) {}, [][]string{{"webhook", "telegram", "sms:duty"}, {"sms:backup"}, {"sms:supervisors"}}},
		{"nothing", func(c *Config) { *c = Config{} }, [][]string{{}, {}, {}}},
		{"webhook only", func(c *Config) {
			*c = Config{WebhookURL: "http://10.0.0.7:9000/alerts", WebhookSecret: testSecret}
		}, [][]string{{"webhook"}, {}, {}}},
		{"supervisors only", func(c *Config) {
			c.WebhookURL, c.WebhookSecret, c.TelegramChat, c.DutySMS, c.BackupSMS = "", "", "", nil, nil
		}, [][]string{{}, {}, {"sms:supervisors"}}},
		// The bot runs the Telegram channel; without a group it sends no alerts.
		{"bot without group", func(c *Config) { c.TelegramChat = "" }, [][]string{{"webhook", "sms:duty"}, {"sms:backup"}, {"sms:supervisors"}}},
		{"no console URL", func(c *Config) { c.ConsoleURL = "" }, [][]string{{"webhook", "telegram", "sms:duty"}, {"sms:backup"}, {"sms:supervisors"}}},
	} {
		cfg := fullConfig()
		tc.edit(&cfg)
		l, err := FromConfig(cfg)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := names(l); !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%s: levels %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFromConfigRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"short secret", func(c *Config) { c.WebhookSecret = "0123456789abcde" }, "HOTLINE_NOTIFY_WEBHOOK_SECRET"},
		{"no secret", func(c *Config) { c.WebhookSecret = "" }, "HOTLINE_NOTIFY_WEBHOOK_SECRET"},
		{"secret without URL", func(c *Config) { c.WebhookURL = "" }, "without HOTLINE_NOTIFY_WEBHOOK_URL"},
		{"relative webhook URL", func(c *Config) { c.WebhookURL = "/hotline" }, "HOTLINE_NOTIFY_WEBHOOK_URL"},
		{"webhook URL not http", func(c *Config) { c.WebhookURL = "ftp://pager.example.org/" }, "HOTLINE_NOTIFY_WEBHOOK_URL"},
		{"chat is a name", func(c *Config) { c.TelegramChat = "@duty" }, "HOTLINE_NOTIFY_TELEGRAM_CHAT"},
		{"chat with spaces", func(c *Config) { c.TelegramChat = " -100123" }, "HOTLINE_NOTIFY_TELEGRAM_CHAT"},
		{"chat without bot", func(c *Config) { c.TelegramToken = "" }, "TELEGRAM_BOT_TOKEN"},
		{"national number", func(c *Config) { c.DutySMS = []string{"07700900001"} }, "HOTLINE_NOTIFY_SMS: number 1"},
		{"number with spaces", func(c *Config) { c.BackupSMS = []string{"+44 7700 900001"} }, "HOTLINE_BACKUP_SMS: number 1"},
		{"number too short", func(c *Config) { c.SupervisorSMS = []string{"+12345"} }, "HOTLINE_SUPERVISOR_SMS: number 1"},
		{"number too long", func(c *Config) { c.SupervisorSMS = []string{"+1234567890123456"} }, "HOTLINE_SUPERVISOR_SMS: number 1"},
		{"country code 0", func(c *Config) { c.DutySMS = []string{dutyPhones[0], "+0447700900001"} }, "HOTLINE_NOTIFY_SMS: number 2"},
		{"whatsapp number", func(c *Config) { c.DutySMS = []string{"whatsapp:+447700900001"} }, "HOTLINE_NOTIFY_SMS: number 1"},
		{"duplicate", func(c *Config) { c.DutySMS = []string{dutyPhones[0], dutyPhones[0]} }, "given twice"},
		{"SMS without Twilio", func(c *Config) { c.TwilioAuthToken = "" }, "TWILIO_AUTH_TOKEN"},
		{"SMS without sender number", func(c *Config) { c.SMSFrom = "" }, "TWILIO_SMS_FROM"},
		{"bad Twilio URL", func(c *Config) { c.TwilioAPIURL = "localhost:9000" }, "twilio"},
		{"bad console URL", func(c *Config) { c.ConsoleURL = "hotline.example.org/console" }, "console URL"},
	} {
		cfg := fullConfig()
		tc.edit(&cfg)
		_, err := FromConfig(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
		for _, p := range append(dutyPhones, "7700900001") {
			if err != nil && strings.Contains(err.Error(), p) {
				t.Errorf("%s: the error shows a phone number: %v", tc.name, err)
			}
		}
	}
}

// Every level delivers through real clients to the fakes, and alerts without a console
// link get the configured one.
func TestFromConfigDelivers(t *testing.T) {
	t.Parallel()
	got := make(chan Alert, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := Verify(testSecret, r, time.Minute, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var a Alert
		_ = json.Unmarshal(body, &a)
		got <- a
	}))
	t.Cleanup(hook.Close)
	tg := telegramtest.New(t, testBotToken)
	tw := twiliotest.New(t, testSID, testAuthToken)
	cfg := fullConfig()
	cfg.WebhookURL, cfg.TelegramAPIURL, cfg.TwilioAPIURL = hook.URL, tg.URL(), tw.URL()
	levels, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	a := alert()
	a.ConsoleURL = ""
	for level, ns := range levels {
		a.Level = level
		for _, n := range ns {
			if err := n.Notify(t.Context(), a); err != nil {
				t.Fatalf("level %d %s: %v", level, n.Name(), err)
			}
		}
	}
	if w := <-got; w.ConsoleURL != cfg.ConsoleURL || w.Level != 0 {
		t.Errorf("webhook got %+v", w)
	}
	if msgs := tg.Messages(); len(msgs) != 1 || !strings.HasSuffix(msgs[0].Text, "Open the console: "+cfg.ConsoleURL) {
		t.Errorf("telegram got %#v", msgs)
	}
	byTo := map[string]string{}
	for _, m := range tw.Messages() {
		byTo[m.To] = m.Body
	}
	for to, level := range map[string]string{dutyPhones[0]: "level 0 (duty)", dutyPhones[1]: "level 0 (duty)",
		dutyPhones[2]: "level 1 (backup)", "+33612345678": "level 2 (supervisors)"} {
		if b := byTo[to]; !strings.Contains(b, level) || !strings.HasSuffix(b, cfg.ConsoleURL) {
			t.Errorf("SMS %q, want %s with the console link", b, level)
		}
	}
	if len(byTo) != 4 {
		t.Errorf("%d phones texted, want 4", len(byTo))
	}
}
