// Package dates reads the dates and ages families type when they report a missing person
// ("12/03/2001", "1er mars 2001", "unos 25 años", "حوالي ٢٥ سنة") into checked values.
package dates
