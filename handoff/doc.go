// Package handoff is the operators' side: the queue of conversations waiting for a
// person, and (in later issues) claiming, the console and alerts.
package handoff
