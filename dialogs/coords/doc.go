// Package coords reads the positions people in distress type from a phone or a boat's device
// ("35°12.50'N 012°30.10'E", "٣٥٫٢٠٨٣، ١٢٫٥٠١٧", a maps link) into checked decimal degrees.
package coords
