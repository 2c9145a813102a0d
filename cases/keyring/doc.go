// Package keyring seals identifying fields of case records with AES-256-GCM under a ring of
// rotatable data keys, and hashes phone numbers and chat IDs for lookup with a separate key.
package keyring
