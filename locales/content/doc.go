// Package content is the hotline's editable safety content: route information and
// emergency numbers, shipped in the binary and overridable from a folder at run time.
package content
