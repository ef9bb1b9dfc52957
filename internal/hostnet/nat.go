package hostnet

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// NAT masquerades a subnet's traffic to anywhere else, as libvirt's NAT
// networks do: `ip saddr SUBNET ip daddr != SUBNET masquerade` in the
// postrouting chain of an nftables table of its own (family ip). Only
// that table is ever changed or deleted; other tables, iptables-nft's
// included, are never flushed.
type NAT struct {
	Table  string
	Subnet netip.Prefix
}

const natChain = "postrouting"

// natTag is the rule's user data: what EnsureNAT compares to tell whether
// the table is already as wanted.
func (n NAT) natTag() []byte { return []byte("microvm masquerade " + n.Subnet.Masked().String()) }

// nft opens an nftables connection in h's netns.
func (h *Host) nft() (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if h.ns.IsOpen() {
		opts = append(opts, nftables.WithNetNSFd(int(h.ns)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("opening nftables connection: %w", err)
	}
	return c, nil
}

// EnsureNAT makes the table hold exactly the masquerade rule of n. A
// table in another state (an older subnet, a rule added by hand) is
// replaced in one transaction, so the host never sees it half made.
func (h *Host) EnsureNAT(n NAT) error {
	if err := h.ensureNAT(n); err != nil {
		return fmt.Errorf("ensuring NAT table %q: %w", n.Table, err)
	}
	return nil
}

func (h *Host) ensureNAT(n NAT) error {
	if n.Table == "" || !n.Subnet.Addr().Is4() {
		return fmt.Errorf("invalid NAT %+v: want a table name and an IPv4 subnet", n)
	}
	c, err := h.nft()
	if err != nil {
		return err
	}
	ok, err := natIsWanted(c, n)
	if err != nil || ok {
		return err
	}
	t := &nftables.Table{Name: n.Table, Family: nftables.TableFamilyIPv4}
	// AddTable first: deleting a table that does not exist would fail
	// the whole transaction.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{
		Name: natChain, Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: masquerade(n.Subnet), UserData: n.natTag()})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	h.log.Info("set up NAT", "table", n.Table, "subnet", n.Subnet.Masked())
	ok, err = natIsWanted(c, n)
	switch {
	case err != nil:
		return fmt.Errorf("verifying: %w", err)
	case !ok:
		return errors.New("verifying: the table does not hold the masquerade rule")
	}
	return nil
}

// natIsWanted reports whether the table exists with only our chain and
// our one rule.
func natIsWanted(c *nftables.Conn, n NAT) (bool, error) {
	t, err := c.ListTableOfFamily(n.Table, nftables.TableFamilyIPv4)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading table: %w", err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("reading chains: %w", err)
	}
	var ours *nftables.Chain
	for _, ch := range chains {
		if ch.Table.Name != n.Table {
			continue
		}
		if ch.Name != natChain || ours != nil {
			return false, nil
		}
		ours = ch
	}
	if ours == nil || ours.Type != nftables.ChainTypeNAT || ours.Hooknum == nil || *ours.Hooknum != *nftables.ChainHookPostrouting {
		return false, nil
	}
	rules, err := c.GetRules(t, ours)
	if err != nil {
		return false, fmt.Errorf("reading rules: %w", err)
	}
	return len(rules) == 1 && bytes.Equal(rules[0].UserData, n.natTag()), nil
}

// masquerade is `ip saddr SUBNET ip daddr != SUBNET masquerade`.
func masquerade(subnet netip.Prefix) []expr.Any {
	network := subnet.Masked().Addr().AsSlice()
	mask := make([]byte, 4)
	for i := range subnet.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	match := func(offset uint32, op expr.CmpOp) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
			&expr.Cmp{Op: op, Register: 1, Data: network},
		}
	}
	e := append(match(12, expr.CmpOpEq), match(16, expr.CmpOpNeq)...) // saddr, daddr
	return append(e, &expr.Masq{})
}

// DeleteNAT deletes the table, if it exists, and nothing else.
func (h *Host) DeleteNAT(table string) error {
	c, err := h.nft()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	if _, err := c.ListTableOfFamily(table, nftables.TableFamilyIPv4); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("deleting NAT table %q: %w", table, err)
	}
	c.DelTable(t)
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting NAT table %q: %w", table, err)
	}
	h.log.Info("deleted NAT table", "table", table)
	return nil
}
