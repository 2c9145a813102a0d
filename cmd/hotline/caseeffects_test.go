package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/dialogs"
)

// TestReportWaitsOutADatabaseOutage: with the database gone, case.save parks the report
// (sealed) and succeeds, so the effects behind it are not held up; once a database
// answers, the parked report is written, once.
func TestReportWaitsOutADatabaseOutage(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := redistest.Single(t)
	spec, _ := keyring.Generate("k1")
	ring, _ := keyring.Parse(spec)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "cases.db")
	open := func() *cases.Register {
		s, err := cases.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return cases.NewRegister(s, ring, func(k, v string) string { return k + v }, time.Now)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	effects := func(reg *cases.Register) *caseEffects {
		return &caseEffects{reg: reg, rdb: rdb, pending: prefix + "{cases}:pending", seal: ring,
			reserver: ref.NewReserver(rdb, prefix, nil, time.Now), now: time.Now, log: quiet}
	}

	broken, err := cases.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	broken.Close() // the database is gone
	down := effects(cases.NewRegister(broken, ring, func(k, v string) string { return k + v }, time.Now))
	job := dialogs.EffectJob{ID: "SM1:e0", Kind: dialogs.EffectCaseSave, Channel: channels.SMS, Contact: "+15005550006",
		Hash: "h1", At: time.Now(), Data: map[string]string{"lang": "en", "consent": dialogs.ConsentVersion,
			"share": "yes", "e_name": "Amina", "m_names": "Mamadou Keita", "m_birth": "~age 24"}}
	res, err := down.handlers()[dialogs.EffectCaseSave](ctx, job)
	if err != nil || res == nil || res.Data["ref"] == "" {
		t.Fatalf("case.save with the database down: %+v, %v; want a reference at once", res, err)
	}
	r, err := ref.Parse(res.Data["ref"])
	if err != nil {
		t.Fatal(err)
	}
	// Run again (a crash before the acknowledgement): the same reference.
	if again, _ := down.handlers()[dialogs.EffectCaseSave](ctx, job); again.Data["ref"] != res.Data["ref"] {
		t.Errorf("retried case.save gave %s, then %s", res.Data["ref"], again.Data["ref"])
	}
	members, _ := rdb.ZRange(ctx, prefix+"{cases}:pending", 0, -1).Result()
	if len(members) != 2 || len(members[0]) == 0 || strings.Contains(members[0], "Amina") || strings.Contains(members[0], "Mamadou") {
		t.Fatalf("parked %d writes (want the report twice: it is saved once), or in clear", len(members))
	}
	// A family asking meanwhile hears the truth: the database cannot be asked.
	down.guard = ref.NewGuard(rdb, prefix, time.Now, 0, 0, 0, 0)
	lookup := dialogs.EffectJob{Hash: "h1", Data: map[string]string{"ref": r.String()}}
	if res, err := down.lookup(ctx, lookup); err != nil || res.Data["result"] != "unavailable" {
		t.Errorf("look-up with the database down: %+v, %v", res, err)
	}

	// A write the database will refuse even when it answers (a note for a case that
	// does not exist), parked before the report: it must not hold the report up.
	if err := down.park(ctx, pendingWrite{Kind: "note", Ref: "AAAAAAAAA2", Key: "SMx", Text: "x", At: job.At.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}

	up := effects(open())
	// Back up, before the parked write is done: the reservation says the report is
	// on its way, and a note added now follows it.
	up.guard = down.guard
	if res, err := up.lookup(ctx, lookup); err != nil || res.Data["result"] != "ok" || res.Data["status"] != cases.StatusReceived {
		t.Errorf("look-up of a parked report: %+v, %v", res, err)
	}
	note := dialogs.EffectJob{ID: "SM2:e0", Kind: dialogs.EffectCaseNote, Hash: "h1", At: time.Now(),
		Data: map[string]string{"ref": r.String(), "text": "He called from Zuwara."}}
	if res, err := up.handlers()[dialogs.EffectCaseNote](ctx, note); err != nil || !res.OK {
		t.Errorf("note to a parked report: %+v, %v", res, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); up.runPending(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	var c cases.Case
	for time.Now().Before(deadline) {
		if c, err = up.reg.Read(ctx, r.Compact(), "test", "check"); err == nil && rdb.ZCard(ctx, prefix+"{cases}:pending").Val() == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if err != nil || c.Details.Missing.Names != "Mamadou Keita" || !c.ShareRCRC {
		t.Fatalf("after the outage: %+v, %v", c, err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(c.Notes) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		c, _ = up.reg.Read(ctx, r.Compact(), "test", "check")
	}
	if len(c.Notes) != 1 || c.Notes[0].Text != "He called from Zuwara." {
		t.Errorf("the note that followed the report: %+v", c.Notes)
	}
	if n := rdb.ZCard(ctx, prefix+"{cases}:pending").Val(); n != 0 {
		t.Errorf("%d writes still parked", n)
	}
	if n := rdb.HLen(ctx, prefix+"{cases}:pending:dead").Val(); n != 1 {
		t.Errorf("%d writes set aside, want the refused note", n)
	}
}

// TestRecordedMarkIsShared: the dialogs mark a recorded answer the way the register
// keeps it out of its clear columns (the two packages do not import each other).
func TestRecordedMarkIsShared(t *testing.T) {
	if dialogs.RecordedPrefix != cases.Recorded {
		t.Errorf("dialogs marks recordings %q, the register knows %q", dialogs.RecordedPrefix, cases.Recorded)
	}
}
