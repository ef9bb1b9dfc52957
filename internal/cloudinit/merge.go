package cloudinit

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// keysKey is cloud-config's list of keys for the default user.
const keysKey = "ssh_authorized_keys"

// MergeKeys returns the user-data of a seed: userData with keys added,
// by this rule:
//
//   - no user-data (nil): a #cloud-config document listing the keys
//     under ssh_authorized_keys (an empty one without keys: NoCloud
//     needs the file);
//   - #cloud-config user-data: the keys appended to its
//     ssh_authorized_keys (created when absent). The document is
//     re-encoded only when there are keys; comments are kept;
//   - any other user-data (a "#!" script, #include, #cloud-boothook,
//     MIME multipart, gzip): as it is; with keys it is refused, because
//     cloud-init has nothing to merge them into. Install them from the
//     script, or write #cloud-config with runcmd.
func MergeKeys(userData []byte, keys []string) ([]byte, error) {
	if err := CheckUserData(userData, len(keys) > 0); err != nil {
		return nil, err
	}
	if userData != nil && (len(keys) == 0 || !IsCloudConfig(userData)) {
		return userData, nil
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if userData != nil {
		var err error
		if m, err = parseCloudConfig(userData); err != nil {
			return nil, err
		}
	}
	if len(keys) > 0 {
		list := value(m, keysKey)
		if list == nil {
			list = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: keysKey}, list)
		}
		for _, k := range keys {
			list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k})
		}
	}
	var b bytes.Buffer
	b.WriteString(cloudConfigHeader + "\n")
	if len(m.Content) > 0 {
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(m); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// parseCloudConfig parses #cloud-config user-data into its top-level
// mapping, checking that ssh_authorized_keys, if present, is a list.
// The header line is blanked rather than cut, so that errors name the
// lines of the user's file, and so that it does not come back as a
// comment when the document is encoded again.
func parseCloudConfig(userData []byte) (*yaml.Node, error) {
	_, rest, _ := bytes.Cut(userData, []byte("\n"))
	m, err := parseMapping(append([]byte("\n"), rest...))
	if err != nil {
		return nil, fmt.Errorf("#cloud-config: %w", err)
	}
	if l := value(m, keysKey); l != nil && l.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: %s is a YAML %s; expected a list of keys", l.Line, keysKey, kindName(l.Kind))
	}
	return m, nil
}

// notCloudConfig refuses keys for user-data they cannot be merged into.
func notCloudConfig(userData []byte) error {
	first, _, _ := bytes.Cut(userData, []byte("\n"))
	return fmt.Errorf("starts with %s, not #cloud-config, so sshAuthorizedKeys cannot be merged into it; "+
		"install the keys from the script itself, or write #cloud-config user-data (runcmd runs commands)", short(string(first)))
}
