package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// rig is what every benchmark sets up before it starts the hotline: Redis under a
// fresh random prefix, a scratch folder, the fake Twilio API (behind a delay when
// asked), the hotline binary and the hotline's settings.
type rig struct {
	ropt       *redis.Options
	rdb        *redis.Client
	prefix     string
	runID      uint32
	authToken  string
	accountSID string
	tmp        string
	fake       *twiliotest.Server
	apiURL     string // the fake API, or the delay in front of it
	facts      facts
	bin        string
	lookupKey  []byte
	env        map[string]string // the hotline's settings; a benchmark may add its own

	undo []func() error // in the order they were set up
}

// setUp prepares a rig; tearDown undoes it.
func setUp(ctx context.Context, o options, progress func(string, ...any)) (r *rig, err error) {
	r = &rig{}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.tearDown())
			r = nil
		}
	}()
	if r.ropt, err = redis.ParseURL(o.redisURL); err != nil {
		return r, fmt.Errorf("redis URL: %w", err)
	}
	r.rdb = redis.NewClient(r.ropt)
	r.undo = append(r.undo, func() error { r.rdb.Close(); return nil })
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = r.rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return r, fmt.Errorf("no Redis at %s: %w", redactURL(o.redisURL), err)
	}

	var random [44]byte
	rand.Read(random[:])
	r.prefix = "bench" + hex.EncodeToString(random[:8]) + ":"
	r.runID = binary.BigEndian.Uint32(random[8:12])
	r.authToken = hex.EncodeToString(random[12:28])
	r.accountSID = "AC" + hex.EncodeToString(random[28:44])
	r.undo = append(r.undo, func() error {
		// The run's context may be cancelled by now; the keys must go all the same.
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n, err := deletePrefix(dctx, r.rdb, r.prefix)
		if err != nil {
			return fmt.Errorf("deleting keys under %s: %w", r.prefix, err)
		}
		progress("deleted %d Redis keys under %s", n, r.prefix)
		return nil
	})

	if r.tmp, err = os.MkdirTemp("", "hotline-bench-"); err != nil {
		return r, err
	}
	r.undo = append(r.undo, func() error { os.RemoveAll(r.tmp); return nil })

	r.fake = twiliotest.Start(r.accountSID, r.authToken)
	r.undo = append(r.undo, func() error { r.fake.Close(); return nil })
	r.apiURL = r.fake.URL()
	if o.apiLatency > 0 {
		slow, err := startSlowAPI(r.apiURL, o.apiLatency)
		if err != nil {
			return r, err
		}
		r.undo = append(r.undo, func() error { slow.close(); return nil })
		r.apiURL = slow.url
	}

	r.facts = machineFacts(ctx, r.rdb, o.redisURL)
	r.bin = o.hotlineBin
	if r.bin == "" {
		progress("building the hotline")
		if r.bin, err = buildHotline(ctx, filepath.Join(r.tmp, "hotline")); err != nil {
			return r, err
		}
		r.facts.commit = gitCommit(ctx)
	}
	r.lookupKey = make([]byte, 32)
	rand.Read(r.lookupKey)
	r.env = map[string]string{
		"HOTLINE_ADDR":         "127.0.0.1:0",
		"HOTLINE_PUBLIC_URL":   publicURL,
		"REDIS_URL":            o.redisURL,
		"HOTLINE_REDIS_PREFIX": r.prefix,
		"DATABASE_URL":         "sqlite:" + filepath.Join(r.tmp, "h.db"),
		"HOTLINE_DATA_DIR":     r.tmp,
		"HOTLINE_LOOKUP_KEY":   base64.StdEncoding.EncodeToString(r.lookupKey),
		"HOTLINE_DATA_KEYS":    "bench:" + base64.StdEncoding.EncodeToString(r.lookupKey),
		"TWILIO_ACCOUNT_SID":   r.accountSID,
		"TWILIO_AUTH_TOKEN":    r.authToken,
		"TWILIO_SMS_FROM":      hotlineNumber,
		"TWILIO_API_URL":       r.apiURL,
		"HOTLINE_LOG_LEVEL":    "warn",
		"HOTLINE_SIMULATOR":    "off",
	}
	if o.shards > 0 {
		r.env["HOTLINE_SHARDS"] = fmt.Sprint(o.shards)
	}
	return r, nil
}

// tearDown undoes what setUp did, last first; the hotline must have stopped, or it
// could write keys again after they were deleted.
func (r *rig) tearDown() error {
	var errs []error
	for i := len(r.undo) - 1; i >= 0; i-- {
		errs = append(errs, r.undo[i]())
	}
	r.undo = nil
	return errors.Join(errs...)
}
