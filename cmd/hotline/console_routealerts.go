package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels/broadcast"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
)

// consoleRouteAlertRoutes mounts the route alerts page of the console: everyone on
// duty sees what was sent to the people on a route and how far it went; supervisors
// publish (POST /console/api/route-alerts, in console.go) and withdraw.
func (a *app) consoleRouteAlertRoutes(r *gin.Engine, c *console.Console) {
	r.GET("/console/route-alerts", c.Require(accounts.Operator), c.RouteAlertsPage(a.routeAlertsView))
	r.POST("/console/api/route-alerts/:id/withdraw", c.Require(accounts.Supervisor), handleWithdrawAlert(a))
}

// routeAlertsView reads the alerts in force with their counts (as GET
// /api/route-alerts/:id has them), route names in lang, and, for the publishing form,
// the routes with their subscribers and the languages an alert is written in.
func (a *app) routeAlertsView(ctx context.Context, lang string, form bool) (console.RouteAlerts, error) {
	var out console.RouteAlerts
	list, err := a.bcast.Active(ctx)
	if err != nil {
		return out, err
	}
	cur := a.content.Current()
	name := func(route string) string {
		if n := cur.Name(lang, route); n != "" {
			return n
		}
		return route // removed from the content since it was published
	}
	subscribers := map[string]int64{}
	count := func(route string) (int64, error) {
		if n, ok := subscribers[route]; ok {
			return n, nil
		}
		n, err := a.bcast.Count(ctx, route)
		subscribers[route] = n
		return n, err
	}
	for _, al := range list {
		c, err := a.bcast.Status(ctx, al.ID)
		if err != nil {
			return out, err
		}
		subs, err := count(al.Route)
		if err != nil {
			return out, err
		}
		ra := console.RouteAlert{ID: al.ID, Route: al.Route, RouteName: name(al.Route), Created: al.Created,
			Expires: al.Expires, Cancelled: al.Cancelled, By: al.By,
			Counts: console.AlertCounts{Subscribers: subs, Queued: c.Queued, Sent: c.Sent, Delivered: c.Delivered,
				Undelivered: c.Undelivered, Failed: c.Failed, Held: c.Held, Dropped: c.Dropped,
				Started: c.Shards, Done: c.Done, Shards: a.cfg.Shards}}
		for _, l := range a.bundle.Languages() {
			if t, ok := al.Texts[l]; ok {
				ra.Texts = append(ra.Texts, console.AlertText{Lang: l, Text: t})
			}
		}
		out.Alerts = append(out.Alerts, ra)
	}
	if !form {
		return out, nil
	}
	out.Langs = a.bundle.Languages()
	for _, r := range cur.Routes() {
		n, err := count(r)
		if err != nil {
			return out, err
		}
		out.Routes = append(out.Routes, console.RouteChoice{ID: r, Name: name(r), Subscribers: n})
	}
	return out, nil
}

// handleWithdrawAlert withdraws an alert from the console, as DELETE
// /api/route-alerts/:id does for the operations API: what was not sent yet is not
// sent. The audit log names the supervisor.
func handleWithdrawAlert(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("id")
		if len(id) > 64 {
			c.JSON(http.StatusNotFound, gin.H{"error": "no such alert"})
			return
		}
		al, err := a.bcast.Cancel(c.Request.Context(), id)
		switch {
		case errors.Is(err, broadcast.ErrNotFound):
			c.JSON(http.StatusNotFound, gin.H{"error": "no such alert"})
		case err != nil:
			a.log.Error("withdraw route alert", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alert cannot be withdrawn now; try again"})
		default:
			a.auditAlert(c.Request.Context(), "operator:"+console.SessionOf(c).Operator, "alert.cancel", al)
			c.JSON(http.StatusOK, gin.H{"alert": al})
		}
	}
}
