// Package accounts is what the console needs to know who is at the keyboard: roles,
// password hashing (argon2id) and policy, and the login throttle.
package accounts
