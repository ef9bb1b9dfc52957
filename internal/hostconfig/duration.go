package hostconfig

import "time"

// Duration is a time.Duration written as a string ("5s") in TOML.
type Duration struct {
	time.Duration
	// text and err are what the file wrote and why it does not parse:
	// go-toml hands integers to UnmarshalText too and then returns its
	// error without a position, so Load reports it instead, located.
	text string
	err  error
}

// UnmarshalText parses "5s", "2m". It never fails: Load checks err.
func (d *Duration) UnmarshalText(b []byte) error {
	d.text = string(b)
	d.Duration, d.err = time.ParseDuration(d.text)
	return nil
}
