package imageref

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
	}{
		{"docker-archive:app.tar", Ref{Transport: DockerArchive, Path: "app.tar"}},
		{"docker-archive:/srv/app.tar:app:1.0", Ref{Transport: DockerArchive, Path: "/srv/app.tar", Tag: "app:1.0"}},
		{"oci-layout:layout", Ref{Transport: OCILayout, Path: "layout"}},
		{"oci-layout:layout:v1", Ref{Transport: OCILayout, Path: "layout", Tag: "v1"}},
		{"alpine:3.20", Ref{Transport: Registry, Name: "alpine:3.20"}},
		{"docker://ghcr.io/o/i@sha256:" + strings.Repeat("a", 64), Ref{Transport: Registry, Name: "ghcr.io/o/i@sha256:" + strings.Repeat("a", 64)}},
		{"127.0.0.1:5000/test/app", Ref{Transport: Registry, Name: "127.0.0.1:5000/test/app"}},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("Parse(%q.String()) = %+v, %v", tc.in, again, err)
		}
	}
}

func TestParseBad(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "empty; expected docker-archive:FILE",
		"docker-archive:":         `"docker-archive:" names no file`,
		"docker-archive:a.tar:UP": `"UP" is not an image tag`,
		"oci-layout:":             `"oci-layout:" names no directory`,
		"Alpine":                  `"Alpine" is not an image reference`,
		"alpine:3.20:extra":       `is not an image reference`,
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", in, err, want)
		}
	}
}

func TestRefResolve(t *testing.T) {
	r, _ := Parse("oci-layout:images/app:v1")
	if got := r.Resolve("/srv").String(); got != "oci-layout:/srv/images/app:v1" {
		t.Errorf("Resolve = %q", got)
	}
	r, _ = Parse("docker-archive:/abs.tar")
	if got := r.Resolve("/srv").String(); got != "docker-archive:/abs.tar" {
		t.Errorf("Resolve = %q", got)
	}
	r, _ = Parse("alpine")
	if got := r.Resolve("/srv").String(); got != "alpine" {
		t.Errorf("Resolve = %q", got)
	}
}
