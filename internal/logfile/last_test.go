package logfile

import (
	"reflect"
	"strings"
	"testing"
)

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max, n int
		writes []string
		want   []string
	}{
		{"line ends", 100, 5, []string{"a\r\nb\n", "c"}, []string{"a", "b", "c"}},
		{"last n", 100, 2, []string{"1\n2\n3\n4\n"}, []string{"3", "4"}},
		{"blank lines left out", 100, 5, []string{"a\n\n \r\n\nb\n"}, []string{"a", "b"}},
		{"split across writes", 100, 5, []string{"qemu-system-x86_64: -drive file=d", "ata.img: Permission denied\r\n"},
			[]string{"qemu-system-x86_64: -drive file=data.img: Permission denied"}},
		{"overwritten line", 100, 5, []string{"10%\r50%\r100%\r\n"}, []string{"100%"}},
		{"colours", 100, 5, []string{"[\x1b[0;32m  OK  \x1b[0m] Started\n\x1b]0;title\x07x\n"}, []string{"[  OK  ] Started", "x"}},
		// The first line is cut: only what is whole is kept.
		{"bounded", 8, 5, []string{"long first line\nab\ncd\n"}, []string{"ab", "cd"}},
		{"nothing", 100, 5, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLast(tc.max)
			for _, w := range tc.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := l.Lines(tc.n); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Lines(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

// TestLastBounded: a console that never stops talking costs max bytes.
func TestLastBounded(t *testing.T) {
	l := NewLast(64)
	for range 1000 {
		l.Write([]byte(strings.Repeat("x", 30) + "\n"))
	}
	if len(l.buf) > 64 {
		t.Errorf("kept %d bytes, want at most 64", len(l.buf))
	}
	if got := l.Lines(20); len(got) != 2 {
		t.Errorf("Lines = %q, want the 2 whole lines of the last 64 bytes", got)
	}
}
