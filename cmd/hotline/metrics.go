package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/outbox"
)

// metrics are the hotline's Prometheus series, on a registry of its own (no globals).
type metrics struct {
	reg        *prometheus.Registry
	turns      *prometheus.CounterVec
	turnTime   *prometheus.HistogramVec
	rejections *prometheus.CounterVec
	outbound   *prometheus.CounterVec
	sendTime   *prometheus.HistogramVec
	missing    *prometheus.CounterVec
	unsaid     *prometheus.CounterVec
	limited    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_turns_total",
			Help: "Conversation turns processed, by channel and outcome."}, []string{"channel", "outcome"}),
		turnTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_turn_seconds",
			Help:    "Time to process one turn (load, step, commit).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1}}, []string{"channel"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_webhook_rejections_total",
			Help: "Webhook requests refused, by channel and reason."}, []string{"channel", "reason"}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_outbound_total",
			Help: "Outbound message pieces, by channel and outcome (sent, retry, failed, opted_out, blocked, held (WhatsApp reply outside the 24-hour window, waiting for the contact), template (the template asking them to write), dead)."}, []string{"channel", "outcome"}),
		sendTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_send_seconds",
			Help: "Time the provider took to accept a message.", Buckets: prometheus.DefBuckets}, []string{"channel"}),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_missing_translations_total",
			Help: "Messages shown in English because the contact's language lacks them."}, []string{"lang", "id"}),
		unsaid: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_voice_unsaid_total",
			Help: "Things a call left out: its language has no text-to-speech and no recording of the clip (empty: words only text-to-speech can say)."}, []string{"lang", "clip"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_contact_limited_total",
			Help: "Messages over their contact's limit (HOTLINE_CONTACT_RATE), by channel and handling: dropped (no turn of the bot), notice (no turn; the contact told once a window), answered (a turn all the same: danger, a person asked for, STOP/START, an erasure, STOP ALERTS, a report's answers), forwarded (a turn: the conversation is with a person)."},
			[]string{"channel", "handling"}),
	}
	m.reg.MustRegister(m.turns, m.turnTime, m.rejections, m.outbound, m.sendTime, m.missing, m.unsaid, m.limited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeTurn(ch channels.Channel, d time.Duration, outcome string) {
	m.turns.WithLabelValues(string(ch), outcome).Inc()
	if outcome == "ok" {
		m.turnTime.WithLabelValues(string(ch)).Observe(d.Seconds())
	}
}

func (m *metrics) observeLimited(ch channels.Channel, handling string) {
	m.limited.WithLabelValues(string(ch), handling).Inc()
}

func (m *metrics) observeSend(r outbox.Result) {
	m.outbound.WithLabelValues(string(r.Channel), r.Outcome).Inc()
	if r.Outcome == "sent" {
		m.sendTime.WithLabelValues(string(r.Channel)).Observe(r.Duration.Seconds())
	}
}

// gauge registers a value read at scrape time, bounded so that a slow Redis cannot hang
// the scrape.
func (m *metrics) gauge(name, help string, read func(context.Context) (float64, error)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		v, err := read(ctx)
		if err != nil {
			return -1
		}
		return v
	}))
}
