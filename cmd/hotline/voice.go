package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/voice"
	"github.com/hotline-org/hotline/locales"
)

// newVoice wires the voice IVR: the runner takes a call's turns, Redis keeps each
// turn's TwiML for Twilio's retries, the inbox hears that a call ended.
func (a *app) newVoice() (*voice.Handler, error) {
	voices, err := locales.Voices()
	if err != nil {
		return nil, err
	}
	speakers := map[string]voice.Speaker{}
	for lang, v := range voices {
		if a.bundle.Has(lang) {
			speakers[lang] = voice.Speaker{Say: v.Say, Voice: v.Voice, Speech: v.Speech}
		}
	}
	if a.cfg.Operator == "" {
		a.log.Warn("no HOTLINE_OPERATOR_NUMBER: a caller who asks for a person hears the emergency numbers instead")
	}
	if a.cfg.Fallback == "" {
		a.log.Warn("no HOTLINE_FALLBACK_NUMBER: when Redis is away a caller hears the emergency guidance and nobody is dialled")
	}
	return voice.New(a.runner, voice.Config{Verifier: a.verifier, PublicURL: a.cfg.PublicURL, Speakers: speakers,
		Operator: a.cfg.Operator, Fallback: a.cfg.Fallback, Guidance: a.voiceGuidance,
		Again: func(lang string) string { return a.bundle.Localize(lang, "voice.fallback.again", nil) },
		Cache: voiceStore{rdb: a.rdb, prefix: a.cfg.RedisPrefix}, Answers: voiceStore{rdb: a.rdb, prefix: a.cfg.RedisPrefix},
		Now: a.now, Log: a.log,
		Reject: a.rejected(channels.Voice),
		Ended: func(ctx context.Context, call string) error {
			_, err := a.inbox.Enqueue(ctx, channels.Inbound{ID: call + ":ended", Channel: channels.Voice, Contact: call,
				Received: a.now(), Effect: &channels.EffectResult{Kind: channels.EventCallEnded, OK: true}})
			return err
		}}), nil
}

// voiceGuidance is what a call hears when the hotline cannot run it: the emergency
// numbers, from the embedded messages and content, which need neither Redis nor the
// database.
func (a *app) voiceGuidance(lang string) string {
	lines := []string{a.bundle.Localize(lang, "voice.fallback", nil)}
	for _, n := range a.content.Current().Numbers() {
		lines = append(lines, n.LabelIn(lang)+": "+n.Number+".")
	}
	return strings.Join(lines, " ")
}

// voiceStore keeps in Redis, per call, each turn's TwiML for 15 minutes (Twilio asking
// again) and which attempts to put the call through a person took.
type voiceStore struct {
	rdb    redis.UniversalClient
	prefix string
}

func (c voiceStore) key(call string, turn int) string {
	return c.prefix + "voice:" + call + ":" + strconv.Itoa(turn)
}

func (c voiceStore) Get(ctx context.Context, call string, turn int) (string, bool) {
	x, err := c.rdb.Get(ctx, c.key(call, turn)).Result()
	return x, err == nil
}

// Take marks an attempt to put a call through as taken by a person.
func (c voiceStore) Take(ctx context.Context, call string, turn int) error {
	return c.rdb.Set(ctx, c.key(call, turn)+":taken", "1", time.Hour).Err()
}

// Taken reports whether a person took that attempt.
func (c voiceStore) Taken(ctx context.Context, call string, turn int) bool {
	n, err := c.rdb.Exists(ctx, c.key(call, turn)+":taken").Result()
	return err == nil && n > 0
}

func (c voiceStore) Set(ctx context.Context, call string, turn int, x string) {
	_ = c.rdb.Set(ctx, c.key(call, turn), x, 15*time.Minute).Err() // a lost entry only costs a retried turn its echo
}
