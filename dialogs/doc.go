// Package dialogs is the conversation state machine (a pure Step over flows declared as
// data), the session store in Redis and the runner that turns inbound messages into turns.
package dialogs
