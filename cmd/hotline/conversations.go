package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
)

// The conversations API lets a person take a conversation over from the bot, answer
// it, hand it on and give it back, until the console does the same with accounts: the
// operations token guards it, and the operator is named in each request (recorded as
// such in the audit log).

// conversationBody is what a change names: who makes it, and what it needs.
type conversationBody struct {
	Operator string `json:"operator"`
	To       string `json:"to"`     // transfer: "operator:<id>", "team:<lang>" or "queue"
	ID       string `json:"id"`     // reply: the reply's ID, so that a retry is sent once
	Text     string `json:"text"`   // reply
	Reason   string `json:"reason"` // close
}

// who says who makes a request, and how the audit log names them: the operator the
// body names (the operations token, shared), or the console's logged-in operator.
type who func(c *gin.Context, body *conversationBody) (operator, actor string, ok bool)

// namedInBody is who for the operations API.
func namedInBody(c *gin.Context, body *conversationBody) (string, string, bool) {
	op := body.Operator
	if c.Request.Method == http.MethodGet {
		op = c.Query("operator")
	}
	if !validOperator(op) {
		c.JSON(http.StatusBadRequest, gin.H{"error": `name the operator: {"operator": "7", …}, or ?operator=7 to look`})
		return "", "", false
	}
	return op, "api-token:" + op, true
}

// loggedIn is who for the console.
func loggedIn(c *gin.Context, _ *conversationBody) (string, string, bool) {
	op := console.SessionOf(c).Operator
	return op, "operator:" + op, op != ""
}

// conversation finds the conversation a request names by its queue key
// ("sms:<contact hash>"), and who asks.
func (a *app) conversation(c *gin.Context, body *conversationBody) (dialogs.Conv, bool) {
	if c.Request.Method != http.MethodGet {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
		if err := c.ShouldBindJSON(body); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "the body must be a JSON object"})
			return dialogs.Conv{}, false
		}
	}
	e, err := a.queue.Entry(c.Request.Context(), c.Param("key"))
	switch {
	case err != nil:
		a.log.Error("read conversation entry", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the queue cannot be read now"})
		return dialogs.Conv{}, false
	case e == nil:
		c.JSON(http.StatusNotFound, gin.H{"error": "no such conversation in the queue or held"})
		return dialogs.Conv{}, false
	}
	return dialogs.Conv{Channel: e.Channel, Shard: e.Shard, Contact: e.Contact}, true
}

// validOperator accepts an operator ID as accounts will have them: short, plain.
func validOperator(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return false
		}
	}
	return true
}

// handleConversationChange makes one ownership change and answers what became of it.
func handleConversationChange(a *app, action string, by who) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body conversationBody
		conv, ok := a.conversation(c, &body)
		if !ok {
			return
		}
		op, actor, ok := by(c, &body)
		if !ok {
			return
		}
		body.Operator = op
		ctx := c.Request.Context()
		var (
			s   dialogs.Session
			err error
		)
		reason := ""
		switch action {
		case "claim":
			s, err = a.runner.Claim(ctx, conv, body.Operator)
		case "takeover":
			var held *handoff.Entry
			if held, err = a.queue.Entry(ctx, c.Param("key")); err == nil && held != nil {
				reason = "from " + held.Operator
			}
			s, err = a.runner.TakeOver(ctx, conv, body.Operator)
		case "transfer":
			team, toTeam := strings.CutPrefix(body.To, dialogs.TeamPrefix)
			if to, ok := strings.CutPrefix(body.To, dialogs.OwnerOperatorPrefix); !(ok && validOperator(to)) && body.To != dialogs.OwnerQueue &&
				!(toTeam && slices.Contains(a.bundle.Languages(), team)) {
				c.JSON(http.StatusBadRequest, gin.H{"error": `"to" must be "operator:<id>", "team:<language>" or "queue"`})
				return
			}
			if to, ok := strings.CutPrefix(body.To, dialogs.OwnerOperatorPrefix); ok {
				// Only to someone who can take it: a typo must not strand a conversation.
				o, err := a.store.Operator(ctx, to)
				if err != nil || !o.Active() {
					c.JSON(http.StatusBadRequest, gin.H{"error": "no active operator " + to})
					return
				}
			}
			s, err = a.runner.Transfer(ctx, conv, body.Operator, body.To)
			reason = "to " + body.To
		case "release":
			s, err = a.runner.Release(ctx, conv, body.Operator)
		case "close":
			// The audit log keeps it in clear: short, and (the console asks) no names or
			// numbers.
			if r := strings.TrimSpace(body.Reason); r == "" || utf8.RuneCountInString(r) > 300 {
				c.JSON(http.StatusBadRequest, gin.H{"error": `closing needs a "reason" of at most 300 characters (kept in the audit log)`})
				return
			}
			s, err = a.runner.Close(ctx, conv, body.Operator)
			reason = body.Reason
		case "reply":
			if len(body.ID) < 8 || len(body.ID) > 64 || !validOperator(body.ID) || strings.TrimSpace(body.Text) == "" || len(body.Text) > 1600 {
				c.JSON(http.StatusBadRequest, gin.H{"error": `a reply needs an "id" (8 to 64 letters, digits, . _ - @) and a "text" of at most 1600 characters`})
				return
			}
			var sent bool
			if sent, err = a.runner.Reply(ctx, conv, body.Operator, body.Operator+"-"+body.ID, body.Text); sent {
				// In the transcript beside what the contact wrote (a retry is not sent,
				// nor kept, twice).
				if aerr := a.queue.Append(ctx, c.Param("key"), handoff.Message{At: a.now(), From: dialogs.Operator(body.Operator),
					Text: strings.TrimSpace(body.Text)}); aerr != nil {
					a.log.Error("keep a reply in the transcript", "err", aerr)
				}
			}
		case "note":
			// For the team only, never sent: by whoever holds the conversation.
			if strings.TrimSpace(body.Text) == "" || len(body.Text) > 4000 {
				c.JSON(http.StatusBadRequest, gin.H{"error": `a note needs a "text" of at most 4000 characters`})
				return
			}
			e, gerr := a.queue.Entry(ctx, c.Param("key"))
			switch {
			case gerr != nil:
				err = gerr
			case e == nil || e.Operator != body.Operator:
				err = dialogs.ErrNotYours
			default:
				err = a.queue.Append(ctx, c.Param("key"), handoff.Message{At: a.now(), From: "note:" + body.Operator,
					Text: strings.TrimSpace(body.Text)})
			}
		}
		if err != nil {
			status, id, msg := changeRefused(err)
			if status == http.StatusServiceUnavailable {
				a.log.Error("conversation "+action, "err", err)
			}
			if console.SessionOf(c).Operator != "" {
				msg = a.console.Say(c, id)
			}
			c.JSON(status, gin.H{"error": msg})
			return
		}
		if (action == "claim" || action == "takeover") && s.Owner == dialogs.Operator(body.Operator) {
			// The queue is an index the claim's effect updates; updated here too (the
			// same write, idempotent) so that the page the operator goes to next shows
			// the conversation as theirs rather than still waiting. Only an entry that is
			// there: one gone meanwhile (given back) is not made again.
			if e, err := a.queue.Entry(ctx, c.Param("key")); err == nil && e != nil {
				if err := a.queue.Claimed(ctx, c.Param("key"), body.Operator, *e); err != nil {
					a.log.Warn("queue index after a claim", "err", err)
				}
			}
		}
		a.auditConversation(ctx, actor, "conversation."+action, c.Param("key"), reason)
		switch action {
		case "reply":
			c.JSON(http.StatusOK, gin.H{"sent": body.ID})
			return
		case "note":
			c.JSON(http.StatusOK, gin.H{"noted": true})
			return
		}
		c.JSON(http.StatusOK, gin.H{"owner": s.Owner})
	}
}

// handleConversation shows a conversation: its entry and what the contact wrote for
// the person who answers (personal data: the view is audited).
func handleConversation(a *app, by who) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body conversationBody
		if _, ok := a.conversation(c, &body); !ok {
			return
		}
		op, actor, ok := by(c, &body)
		if !ok {
			return
		}
		ctx := c.Request.Context()
		e, err := a.queue.Entry(ctx, c.Param("key"))
		if sess := console.SessionOf(c); err == nil && e != nil && sess.Operator != "" &&
			e.Operator != "" && e.Operator != op && !sess.Role.Allows(accounts.Supervisor) {
			// What a contact wrote is for whoever holds the conversation (or a
			// supervisor), not every operator.
			c.JSON(http.StatusForbidden, gin.H{"error": "another operator holds this conversation"})
			return
		}
		var msgs []handoff.Message
		if err == nil {
			msgs, err = a.queue.Messages(ctx, c.Param("key"))
		}
		if err != nil || e == nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the conversation cannot be read now"})
			return
		}
		a.auditConversation(ctx, actor, "conversation.view", c.Param("key"), "")
		c.JSON(http.StatusOK, gin.H{"conversation": e, "messages": msgs})
	}
}

// handleHeld lists the conversations operators hold.
func handleHeld(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		held, err := a.queue.Held(c.Request.Context())
		if err != nil {
			a.log.Error("list held conversations", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the held conversations cannot be read now"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"held": held})
	}
}

// auditConversation writes an ownership change or a view to the audit log; the change
// is made either way (a database that does not answer must not keep a person from
// someone waiting), so a failure is logged instead.
func (a *app) auditConversation(ctx context.Context, actor, action, key, reason string) {
	dbctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	ch, hash, _ := strings.Cut(key, ":")
	// The conversation by its channel and the short hash the logs use, never an address.
	if err := a.store.Audit(dbctx, cases.Entry{Actor: actor, Action: action,
		Reason: strings.TrimSpace(ch + " " + dialogs.ShortHash(hash) + " " + reason)}); err != nil {
		a.log.Error("conversation change not audited", "action", action, "err", err)
	}
}

// handleVoicemailDone takes a recorded message a call left off the waiting list once
// someone has listened to it and dealt with it (it has no conversation to take over).
func handleVoicemailDone(a *app, by who) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body conversationBody
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
		if err := c.ShouldBindJSON(&body); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "the body must be a JSON object"})
			return
		}
		_, actor, ok := by(c, &body)
		if !ok {
			return
		}
		key := c.Param("key")
		ctx := c.Request.Context()
		e, err := a.queue.Entry(ctx, key)
		switch {
		case err != nil:
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the queue cannot be read now"})
			return
		case e == nil || !strings.HasSuffix(key, ":voicemail"):
			c.JSON(http.StatusNotFound, gin.H{"error": "no such recorded message"})
			return
		}
		if err := a.queue.Remove(ctx, key); err != nil {
			a.log.Error("voicemail done", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again"})
			return
		}
		a.auditConversation(ctx, actor, "voicemail.done", strings.TrimSuffix(key, ":voicemail"), "")
		c.JSON(http.StatusOK, gin.H{"done": key})
	}
}

// changeRefused is how a refused ownership change is answered.
// The console says the same in its operator's language (id, a console word).
func changeRefused(err error) (status int, id, msg string) {
	for _, r := range []struct {
		err     error
		status  int
		id, msg string
	}{
		{dialogs.ErrTaken, http.StatusConflict, "err.taken", "another operator has this conversation"},
		{dialogs.ErrNotYours, http.StatusForbidden, "err.not_yours", "you do not hold this conversation"},
		{dialogs.ErrNoConversation, http.StatusNotFound, "err.ended", "the conversation has ended"},
		{dialogs.ErrNoAddress, http.StatusConflict, "err.no_address", "this conversation began before the hotline kept addresses: it can be taken once the contact writes again"},
		{dialogs.ErrOptedOut, http.StatusConflict, "err.opted_out", "the contact sent STOP: nothing can be sent to them until they send START"},
		{dialogs.ErrCall, http.StatusUnprocessableEntity, "err.call", "a call is put through to a person, not taken over in writing"},
	} {
		if errors.Is(err, r.err) {
			return r.status, r.id, r.msg
		}
	}
	return http.StatusServiceUnavailable, "err.retry", "the conversation cannot be changed now; try again"
}
