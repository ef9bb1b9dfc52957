package cloudinit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
)

// maxHostname is the longest host name: 253 characters, the DNS limit
// (RFC 1035 §2.3.4 less the final dot and length bytes).
const maxHostname = 253

// CheckHostname refuses what is not a host name by RFC 1123: dot-separated
// labels of letters, digits and '-', 1 to 63 characters each, neither
// starting nor ending with '-'.
func CheckHostname(h string) error {
	const want = "expected a host name: labels of letters, digits and '-' separated by dots, each at most 63 characters, like web-1 or web-1.example.org"
	switch {
	case h == "":
		return errors.New("empty; " + want)
	case len(h) > maxHostname:
		return fmt.Errorf("%q is %d characters; a host name has at most %d", h, len(h), maxHostname)
	}
	for _, l := range strings.Split(h, ".") {
		ok := l != "" && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
		for _, c := range []byte(l) {
			ok = ok && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-')
		}
		if !ok {
			return fmt.Errorf("%q is not a host name; %s", h, want)
		}
	}
	return nil
}

// CheckKey refuses what sshd would not read as a line of
// authorized_keys.
func CheckKey(k string) error {
	if strings.ContainsAny(k, "\r\n") {
		return fmt.Errorf("%q spans lines; expected one public key per entry", k)
	}
	if _, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil || len(rest) > 0 {
		return fmt.Errorf("%s is not an SSH public key; expected a line of authorized_keys like \"ssh-ed25519 AAAAC3Nza… user@host\" (the .pub file, not the private key)", short(k))
	}
	return nil
}

// cloudConfigHeader starts #cloud-config user-data; cloud-init reads
// everything else (scripts "#!", "#include", MIME multipart, …) by other
// rules.
const cloudConfigHeader = "#cloud-config"

// IsCloudConfig reports whether user-data is a #cloud-config document:
// its first line is "#cloud-config" (cloud-init's own test, which
// "#cloud-config-archive" does not pass).
func IsCloudConfig(userData []byte) bool {
	first, _, _ := bytes.Cut(userData, []byte("\n"))
	return string(bytes.TrimRight(first, " \t\r")) == cloudConfigHeader
}

// CheckUserData refuses user-data that cloud-init would reject: a
// #cloud-config document that is not a YAML mapping, or, when keys are to
// be merged into it, user-data that is not #cloud-config (see MergeKeys).
func CheckUserData(userData []byte, withKeys bool) error {
	if !IsCloudConfig(userData) {
		if withKeys && userData != nil {
			return notCloudConfig(userData)
		}
		return nil
	}
	_, err := parseCloudConfig(userData)
	return err
}

// CheckNetworkConfig refuses what is not a network config version 2
// document (NoCloud's network-config: "version: 2" at the top, or below
// "network:").
func CheckNetworkConfig(data []byte) error {
	const want = `expected a network config version 2 document: "version: 2" with ethernets, bonds, bridges or vlans, as netplan writes it`
	doc, err := parseMapping(data)
	if err != nil {
		return err
	}
	m := doc
	if n := value(doc, "network"); n != nil {
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: network is not a mapping; %s", n.Line, want)
		}
		m = n
	}
	v := value(m, "version")
	switch {
	case v == nil:
		return errors.New("no version; " + want)
	case v.Kind != yaml.ScalarNode || v.Value != "2":
		return fmt.Errorf("line %d: version %s; %s (version 1 is not supported here)", v.Line, short(v.Value), want)
	}
	return nil
}

// parseMapping parses a YAML document that must be a mapping (or empty:
// then a new mapping). Errors name lines of data.
func parseMapping(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the document is a YAML %s; expected a mapping (key: value lines)", m.Line, kindName(m.Kind))
	}
	return m, nil
}

// value returns the value of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

// short quotes s, cut to 40 bytes: enough to recognise a value, not
// enough to print a secret pasted in the wrong place.
func short(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}
