package spec

import (
	"path/filepath"
	"testing"
)

// TestExamples keeps the README's example specs valid.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/specs/*.toml")
	if len(files) == 0 {
		t.Fatal("no example specs")
	}
	for _, f := range files {
		if _, err := Parse(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
