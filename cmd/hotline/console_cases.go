package main

import (
	"context"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/dialogs/dates"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
)

// consoleCaseRoutes mounts the case pages of the console. Every operator views and
// completes cases; the status API lets a supervisor alone close or reopen one (it
// checks the role itself, since starting work on a case is any operator's).
func (a *app) consoleCaseRoutes(r *gin.Engine, c *console.Console) {
	src := consoleCases{reg: a.register, now: a.now}
	r.GET("/console/cases", c.Require(accounts.Operator), c.CasesPage(src))
	r.GET("/console/cases/:ref", c.Require(accounts.Operator), c.CasePage(src))
	r.POST("/console/api/cases/:ref/interview", c.Require(accounts.Operator), c.CaseInterview(src))
	r.POST("/console/api/cases/:ref/status", c.Require(accounts.Operator), c.CaseStatus(src))
}

// consoleCases is the register as the case pages use it, bounded in time like every
// database call of a request, and reading ages and birth dates as the bot does.
type consoleCases struct {
	reg *cases.Register
	now func() time.Time
}

func (s consoleCases) View(ctx context.Context, ref, actor string) (cases.Case, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	return s.reg.View(ctx, ref, actor)
}

func (s consoleCases) Open(ctx context.Context, limit int) ([]cases.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	return s.reg.Open(ctx, limit)
}

func (s consoleCases) Complete(ctx context.Context, iv cases.Interview) ([]string, []cases.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	iv.BirthYear = birthYear
	return s.reg.Complete(ctx, iv)
}

func (s consoleCases) ChangeStatus(ctx context.Context, c cases.StatusChange) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	return s.reg.ChangeStatus(ctx, c)
}

// birthYear reads a birth field as the report's writer does (caseEffects.report): a
// date, a year or an age as of asOf; 0 when it says none.
func birthYear(birth string, asOf time.Time) int {
	v, err := dates.Parse(birth, "en", asOf)
	if err != nil {
		return 0
	}
	y, _ := v.BirthYear(asOf)
	return y
}

// caseLinksMax bounds the links a conversation's page shows.
const caseLinksMax = 20

// caseLinks are the cases of a conversation's contact, for its page. A case keeps its
// contact as the keyed hash of channel and address (Report.ContactKey), which is the
// queue's Entry.Contact for a chat: the register finds them by that hash, decrypting
// nothing. A call is not a chat: its entry names the call, while a report made on it
// is kept under the caller's number's SMS key (so that an SMS DELETE from that number
// erases it), and that key cannot be made without the number. So the conversation's
// own session adds the references of the reports made in it, which also covers a
// report still on its way to the database. Nothing else is searched.
func (a *app) caseLinks(ctx context.Context, e handoff.Entry) []console.Link {
	var refs []string
	add := func(s string) {
		r, err := ref.Parse(s)
		if err != nil || slices.Contains(refs, r.String()) {
			return
		}
		refs = append(refs, r.String())
	}
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	list, err := a.register.OfContact(dbctx, e.Contact, caseLinksMax)
	cancel()
	if err != nil {
		a.log.Warn("cases of a conversation", "contact", dialogs.ShortHash(e.Contact), "err", err)
	}
	for _, s := range list {
		add(s.Ref)
	}
	s, err := dialogs.LoadSession(ctx, a.rdb, dialogs.KeysFor(a.cfg.RedisPrefix, e.Shard, e.Channel, e.Contact), a.cfg.DataKeys)
	if err != nil {
		a.log.Warn("session of a conversation", "contact", dialogs.ShortHash(e.Contact), "err", err)
	}
	for _, r := range s.Cases {
		add(r)
	}
	if len(refs) > caseLinksMax {
		refs = refs[:caseLinksMax]
	}
	links := make([]console.Link, 0, len(refs))
	for _, r := range refs {
		links = append(links, console.Link{Kind: "case", Label: r, URL: "/console/cases/" + r})
	}
	return links
}
