// Package ratelimit bounds how many requests one client makes in a window, counted in
// Redis so that every replica shares one count, and without keeping client addresses.
package ratelimit
