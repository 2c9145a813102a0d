package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/notify"
)

// distressRefTTL keeps a conversation's open distress case findable by its later
// answers and positions.
const distressRefTTL = 7 * 24 * time.Hour

func (c *caseEffects) distressRefKey(hash string) string { return c.prefix + "distress:ref:" + hash }

// distressOpen answers distress.open: the case is reserved and its alert raised before
// anything else (the database may be away: the case then waits, the alert does not),
// and the conversation goes to the top of the operators' queue.
func (c *caseEffects) distressOpen(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
	r, err := c.reserver.ReserveFor(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	if err := c.rdb.Set(ctx, c.distressRefKey(job.Hash), r.Compact(), distressRefTTL).Err(); err != nil {
		return nil, err
	}
	contact := job.Contact
	if n := job.Data[dialogs.DataCaller]; n != "" {
		// A call: the number to call back, not the call.
		contact = n
	}
	al := notify.Alert{ID: "A" + r.Compact(), CaseRef: r.String(), Channel: job.Channel, Lang: job.Lang, Raised: job.At, Test: job.Test}
	if err := c.alerts.Raise(ctx, al, contact, job.Shard); err != nil {
		return nil, err
	}
	if _, err := c.queue.Add(ctx, handoff.Entry{Key: handoff.EntryKey(job.Channel, job.Hash), Channel: job.Channel, Shard: job.Shard,
		Contact: job.Hash, Lang: job.Lang, Priority: handoff.PriorityDistress, Since: job.At, LastAt: job.At, Test: job.Test}); err != nil {
		return nil, err
	}
	open := pendingWrite{Kind: "distress_open", Ref: r.Compact(), Channel: string(job.Channel), Lang: job.Lang,
		ContactKey: job.Hash, Contact: contact, Test: job.Test, At: job.At}
	if err := c.write(ctx, open); err != nil {
		return nil, err
	}
	if pos := job.Data["position"]; pos != "" {
		if err := c.write(ctx, pendingWrite{Kind: "distress_event", Ref: r.Compact(), Key: job.ID + ":pos",
			Text: pos, Event: cases.EventPosition, At: job.At}); err != nil {
			return nil, err
		}
	}
	res := map[string]string{"ref": r.String()}
	if !c.hours.Open(c.now()) {
		res["outside_hours"] = "1"
	}
	return &channels.EffectResult{OK: true, Data: res}, nil
}

// distressUpdate answers distress.update: one dated fact for the open case.
func (c *caseEffects) distressUpdate(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
	compact, err := c.rdb.GetEx(ctx, c.distressRefKey(job.Hash), distressRefTTL).Result()
	if errors.Is(err, redis.Nil) {
		// No open case any more (erased, or its link expired after a week of silence):
		// dropping the fact beats holding up the effects of every contact behind it.
		c.log.Warn("distress update without an open case; dropped", "contact", dialogs.ShortHash(job.Hash))
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("distress.update: %w", err)
	}
	kind := job.Data["kind"]
	if _, ok := map[string]bool{cases.EventPosition: true, cases.EventPeople: true, cases.EventChildren: true,
		cases.EventInjured: true, cases.EventSituation: true, cases.EventBoat: true, cases.EventWater: true,
		cases.EventEngine: true}[kind]; !ok {
		kind = cases.EventNote
	}
	err = c.write(ctx, pendingWrite{Kind: "distress_event", Ref: compact, Key: job.ID, Event: kind, Text: job.Data["value"], At: job.At})
	if errors.Is(err, cases.ErrReduced) {
		return nil, nil
	}
	return nil, err
}

// distressSummary is the rescue summary of a case, for `hotline cases summary REF`.
func distressSummary(ctx context.Context, reg *cases.Register, input, actor string) (cases.RescueSummary, error) {
	r, err := ref.Parse(input)
	if err != nil {
		return cases.RescueSummary{}, fmt.Errorf("summary: %q is not a case reference: %w", input, err)
	}
	d, err := reg.ReadDistress(ctx, r.Compact(), actor, "rescue summary")
	if err != nil {
		return cases.RescueSummary{}, err
	}
	s := d.Summary()
	s.Ref = r.String()
	return s, nil
}
