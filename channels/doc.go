// Package channels holds the channel-neutral message types and the small contracts
// between provider adapters, the queues and the dialogs; it imports nothing of ours.
package channels
