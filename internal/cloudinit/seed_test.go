package cloudinit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@host"
	key2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8Ht8Z3j6yDWPBHQtOp/R9rjWb7BNpzJcMj3qL6aP6P bob@host"
)

func writeISO(t *testing.T, s *Seed) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "cidata.iso")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.WriteISO(f, dir); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSeedLayout(t *testing.T) {
	s, err := New(Config{VM: "web", Hostname: "web-1", UserData: []byte("#cloud-config\npackages: [htop]\n"),
		SSHAuthorizedKeys: []string{key1}, NetworkConfig: []byte("version: 2\nethernets:\n  eth0:\n    dhcp4: true\n")})
	if err != nil {
		t.Fatal(err)
	}
	iso := writeISO(t, s)
	label, files, err := ReadISO(iso)
	if err != nil {
		t.Fatal(err)
	}
	if label != Label {
		t.Errorf("label %q, want %q", label, Label)
	}
	want := map[string][]byte{MetaDataFile: s.MetaData, UserDataFile: s.UserData, NetworkConfigFile: s.NetworkConfig}
	if len(files) != len(want) {
		t.Errorf("files %v, want %d", keys(files), len(want))
	}
	for name, content := range want {
		if !bytes.Equal(files[name], content) {
			t.Errorf("%s: %q, want %q", name, files[name], content)
		}
	}
	// Whole blocks, and larger than busybox's findfs reads (68 KiB).
	fi, _ := os.Stat(iso)
	if fi.Size()%blockSize != 0 || fi.Size() < 0x11000 {
		t.Errorf("image is %d bytes; want whole %d-byte blocks, at least 68 KiB", fi.Size(), blockSize)
	}
	var md map[string]string
	if err := yaml.Unmarshal(s.MetaData, &md); err != nil {
		t.Fatal(err)
	}
	if md["local-hostname"] != "web-1" || !strings.HasPrefix(md["instance-id"], "web-") || len(md["instance-id"]) != len("web-")+16 {
		t.Errorf("meta-data %q", s.MetaData)
	}
}

// The image must not depend on when it was written: build twice, more
// than a second apart (the descriptors' time stamps have centiseconds).
func TestSeedDeterministic(t *testing.T) {
	c := Config{VM: "vm", Hostname: "vm", UserData: []byte("#!/bin/sh\necho hi\n")}
	s1, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	a := writeISO(t, s1)
	time.Sleep(1100 * time.Millisecond)
	s2, _ := New(c)
	b := writeISO(t, s2)
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Fatalf("two seeds of the same content differ (%d and %d bytes)", len(ba), len(bb))
	}
	if s1.SHA256() != s2.SHA256() {
		t.Fatal("hash differs for the same content")
	}
	c.Hostname = "other"
	s3, _ := New(c)
	if s3.SHA256() == s1.SHA256() || bytes.Equal(s3.MetaData, s1.MetaData) {
		t.Fatal("another hostname gave the same seed")
	}
}

// isoinfo, where installed, reads the image as another implementation.
func TestSeedIsoinfo(t *testing.T) {
	if _, err := exec.LookPath("isoinfo"); err != nil {
		t.Skip("isoinfo (genisoimage) not installed")
	}
	s, err := New(Config{VM: "vm", Hostname: "vm"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("isoinfo", "-d", "-i", writeISO(t, s)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Volume id: cidata") || !strings.Contains(string(out), "Joliet") {
		t.Fatalf("isoinfo: %v\n%s", err, out)
	}
}

func TestSizeLimit(t *testing.T) {
	big := append([]byte("#!/bin/sh\n"), bytes.Repeat([]byte("#"), MaxContent)...)
	_, err := New(Config{VM: "vm", Hostname: "vm", UserData: big})
	if err == nil || !strings.Contains(err.Error(), "a seed holds at most 1048576 (1 MiB)") {
		t.Fatalf("over the limit: %v", err)
	}
	// Just under the limit, with meta-data counted, is fine.
	s, err := New(Config{VM: "vm", Hostname: "vm"})
	if err != nil {
		t.Fatal(err)
	}
	fits := append([]byte("#!/bin/sh\n"), bytes.Repeat([]byte("#"), MaxContent-len(s.MetaData)-10)...)
	if _, err := New(Config{VM: "vm", Hostname: "vm", UserData: fits}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	// WriteISO checks too: a Seed made by hand cannot get past it.
	f, _ := os.Create(filepath.Join(t.TempDir(), "x.iso"))
	defer f.Close()
	if err := (&Seed{UserData: big}).WriteISO(f, t.TempDir()); err == nil {
		t.Fatal("WriteISO wrote a seed over the limit")
	}
}

func TestMergeKeys(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		nilIn    bool
		keys     []string
		want     string // exact output, or
		err      string // part of the error
	}{
		{name: "none", nilIn: true, want: "#cloud-config\n"},
		{name: "keys only", nilIn: true, keys: []string{key1}, want: "#cloud-config\nssh_authorized_keys:\n  - " + key1 + "\n"},
		{name: "appended", in: "#cloud-config\n# mine\nssh_authorized_keys:\n  - " + key2 + "\nhostname: x\n", keys: []string{key1},
			want: "#cloud-config\n# mine\nssh_authorized_keys:\n  - " + key2 + "\n  - " + key1 + "\nhostname: x\n"},
		{name: "added", in: "#cloud-config\npackages: [htop]\n", keys: []string{key1, key2},
			want: "#cloud-config\npackages: [htop]\nssh_authorized_keys:\n  - " + key1 + "\n  - " + key2 + "\n"},
		{name: "unchanged without keys", in: "#cloud-config\nruncmd:\n - [ls]\n", want: "#cloud-config\nruncmd:\n - [ls]\n"},
		{name: "script without keys", in: "#!/bin/sh\necho hi\n", want: "#!/bin/sh\necho hi\n"},
		{name: "script with keys", in: "#!/bin/sh\necho hi\n", keys: []string{key1}, err: `starts with "#!/bin/sh", not #cloud-config, so sshAuthorizedKeys cannot be merged`},
		{name: "archive is not cloud-config", in: "#cloud-config-archive\n- type: text/x-shellscript\n", keys: []string{key1}, err: "not #cloud-config"},
		{name: "bad yaml", in: "#cloud-config\na: b\n  c: d\n", err: "#cloud-config: not valid YAML: line 3"},
		{name: "list", in: "#cloud-config\n- a\n", err: "line 2: the document is a YAML list; expected a mapping"},
		{name: "keys not a list", in: "#cloud-config\nssh_authorized_keys: abc\n", keys: []string{key1}, err: "line 2: ssh_authorized_keys is a YAML scalar; expected a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			if !tc.nilIn {
				in = []byte(tc.in)
			}
			got, err := MergeKeys(in, tc.keys)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one with %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "" && string(got) != tc.want:
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestChecks(t *testing.T) {
	for _, h := range []string{"vm", "web-1.example.org", "A1"} {
		if err := CheckHostname(h); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
	for _, h := range []string{"", "-a", "a-", "a_b", "a..b", "a.", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "ab"} {
		if err := CheckHostname(h); err == nil {
			t.Errorf("%q accepted", h)
		}
	}
	if err := CheckKey(key1); err != nil {
		t.Error(err)
	}
	for _, k := range []string{"", "ssh-ed25519 notbase64", "-----BEGIN OPENSSH PRIVATE KEY-----", key1 + "\n" + key2} {
		if err := CheckKey(k); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	for in, want := range map[string]string{
		"version: 2\nethernets: {}\n":          "",
		"network:\n  version: 2\n":             "",
		"version: 1\nconfig: []\n":             "line 1: version \"1\"",
		"network: [a]\n":                       "line 1: network is not a mapping",
		"ethernets: {}\n":                      "no version",
		"- a\n":                                "expected a mapping",
		"version: 2\n ethernets: {}\n  x: y\n": "not valid YAML",
	} {
		err := CheckNetworkConfig([]byte(in))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
