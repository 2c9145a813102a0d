// Package web is the simulator channel: a browser page that chats with the hotline as if
// by SMS, through the same inbox, dialogs and outbox as real traffic, marked as a test.
package web
