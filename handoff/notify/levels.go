package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hotline-org/hotline/channels/telegram"
	"github.com/hotline-org/hotline/channels/twilio"
)

// The escalation levels.
const (
	LevelDuty        = 0 // at once: the duty operators
	LevelBackup      = 1 // unacknowledged after the first delay
	LevelSupervisors = 2 // after the second delay, and repeated until acknowledged
)

// Levels are the notifiers of each escalation level, indexed by LevelDuty, LevelBackup
// and LevelSupervisors. A level may be empty: the console alone then shows the alert.
type Levels [][]Notifier

// Config is the deployment's alerting configuration (the HOTLINE_NOTIFY_* variables,
// with the hotline's Telegram bot and Twilio account). A medium is on when its
// settings are given.
type Config struct {
	WebhookURL    string // HOTLINE_NOTIFY_WEBHOOK_URL
	WebhookSecret string // HOTLINE_NOTIFY_WEBHOOK_SECRET, at least MinSecretLen characters

	TelegramToken  string // TELEGRAM_BOT_TOKEN
	TelegramAPIURL string // TELEGRAM_API_URL, empty for Telegram itself
	TelegramChat   string // HOTLINE_NOTIFY_TELEGRAM_CHAT: the duty group's chat ID

	TwilioAccountSID string // TWILIO_ACCOUNT_SID
	TwilioAuthToken  string // TWILIO_AUTH_TOKEN
	TwilioAPIURL     string // TWILIO_API_URL, empty for Twilio itself
	SMSFrom          string // TWILIO_SMS_FROM

	DutySMS       []string // HOTLINE_NOTIFY_SMS
	BackupSMS     []string // HOTLINE_BACKUP_SMS
	SupervisorSMS []string // HOTLINE_SUPERVISOR_SMS

	// ConsoleURL is the console's address, given in alerts that carry none.
	ConsoleURL string
}

// FromConfig builds the levels cfg describes: level 0 the webhook, the Telegram group and
// the duty phones; level 1 the backup phones; level 2 the supervisors' phones — each
// when configured. It always returns three levels, and refuses a configuration that
// could not deliver, so that start-up fails rather than an alert.
func FromConfig(cfg Config) (Levels, error) {
	levels := make(Levels, 3)
	if cfg.ConsoleURL != "" && !absoluteURL(cfg.ConsoleURL) {
		return nil, errors.New("notify: the console URL is not an absolute http(s) URL")
	}

	switch {
	case cfg.WebhookURL != "":
		if !absoluteURL(cfg.WebhookURL) {
			return nil, errors.New("notify: HOTLINE_NOTIFY_WEBHOOK_URL is not an absolute http(s) URL")
		}
		if len(cfg.WebhookSecret) < MinSecretLen {
			return nil, fmt.Errorf("notify: HOTLINE_NOTIFY_WEBHOOK_SECRET must be at least %d characters when HOTLINE_NOTIFY_WEBHOOK_URL is set (openssl rand -hex 32)", MinSecretLen)
		}
		levels[LevelDuty] = append(levels[LevelDuty], &Webhook{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret})
	case cfg.WebhookSecret != "":
		return nil, errors.New("notify: HOTLINE_NOTIFY_WEBHOOK_SECRET is set without HOTLINE_NOTIFY_WEBHOOK_URL")
	}

	if cfg.TelegramChat != "" {
		// A group's ID in its canonical decimal form, as the sender takes it.
		id, err := strconv.ParseInt(cfg.TelegramChat, 10, 64)
		if err != nil || id == 0 || strconv.FormatInt(id, 10) != cfg.TelegramChat {
			return nil, errors.New("notify: HOTLINE_NOTIFY_TELEGRAM_CHAT must be a chat ID such as -1001234567890")
		}
		if cfg.TelegramToken == "" {
			return nil, errors.New("notify: HOTLINE_NOTIFY_TELEGRAM_CHAT needs TELEGRAM_BOT_TOKEN")
		}
		s, err := telegram.NewSender(telegram.SenderConfig{Token: cfg.TelegramToken, APIURL: cfg.TelegramAPIURL})
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		levels[LevelDuty] = append(levels[LevelDuty], &TelegramGroup{Chat: cfg.TelegramChat, Sender: s})
	}

	phones := []struct {
		level int
		group string
		env   string
		to    []string
	}{
		{LevelDuty, "duty", "HOTLINE_NOTIFY_SMS", cfg.DutySMS},
		{LevelBackup, "backup", "HOTLINE_BACKUP_SMS", cfg.BackupSMS},
		{LevelSupervisors, "supervisors", "HOTLINE_SUPERVISOR_SMS", cfg.SupervisorSMS},
	}
	var sender *twilio.Sender
	for _, p := range phones {
		if len(p.to) == 0 {
			continue
		}
		seen := map[string]bool{}
		for i, n := range p.to {
			if !isE164(n) {
				return nil, fmt.Errorf("notify: %s: number %d is not in E.164 form (+, country code and number, e.g. +447700900123)", p.env, i+1)
			}
			if seen[n] {
				return nil, fmt.Errorf("notify: %s: number %d is given twice", p.env, i+1)
			}
			seen[n] = true
		}
		if sender == nil {
			tc := twilio.SenderConfig{AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken,
				APIURL: cfg.TwilioAPIURL, From: cfg.SMSFrom}
			if err := tc.Validate(); err != nil {
				return nil, fmt.Errorf("notify: %s needs Twilio (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_SMS_FROM): %w", p.env, err)
			}
			sender = twilio.NewSender(tc)
		}
		levels[p.level] = append(levels[p.level], &SMS{To: append([]string(nil), p.to...), Group: p.group, Sender: sender})
	}

	if cfg.ConsoleURL != "" {
		for _, l := range levels {
			for i, n := range l {
				l[i] = withConsole{Notifier: n, url: cfg.ConsoleURL}
			}
		}
	}
	return levels, nil
}

// withConsole gives alerts without a console link the configured one.
type withConsole struct {
	Notifier
	url string
}

func (w withConsole) Notify(ctx context.Context, a Alert) error {
	if a.ConsoleURL == "" {
		a.ConsoleURL = w.url
	}
	return w.Notifier.Notify(ctx, a)
}

func absoluteURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isE164 reports whether s is "+", a country code not starting with 0, and in all 7 to
// 15 digits.
func isE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
