// Package broadcast keeps route alert subscriptions and sends a published alert to
// every subscriber of its route, once each, through the outbox's bulk lane.
package broadcast
