package hostnet

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// nftIn lists the ip tables and the rules of one chain in e's netns.
func (e *env) nftRules(t *testing.T, table, chain string) (tables []string, rules []*nftables.Rule) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(e.ns)))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range ts {
		tables = append(tables, tb.Name)
		if tb.Name != table {
			continue
		}
		rs, err := c.GetRules(tb, &nftables.Chain{Name: chain, Table: tb})
		if err != nil {
			t.Fatal(err)
		}
		rules = rs
	}
	return tables, rules
}

func TestNAT(t *testing.T) {
	e := newEnv(t)
	// Somebody else's table, which must survive everything below.
	c, err := nftables.New(nftables.WithNetNSFd(int(e.ns)))
	if err != nil {
		t.Fatal(err)
	}
	other := c.AddTable(&nftables.Table{Name: "other", Family: nftables.TableFamilyIPv4})
	c.AddChain(&nftables.Chain{Name: "keep", Table: other})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}

	n := NAT{Table: "microvm-test", Subnet: netip.MustParsePrefix("10.77.0.1/24")}
	if err := e.host.EnsureNAT(n); err != nil {
		t.Fatal(err)
	}
	tables, rules := e.nftRules(t, n.Table, natChain)
	if len(tables) != 2 || len(rules) != 1 {
		t.Fatalf("tables %v, %d rules; want other and microvm-test with one rule", tables, len(rules))
	}
	if _, ok := rules[0].Exprs[len(rules[0].Exprs)-1].(*expr.Masq); !ok {
		t.Errorf("rule ends with %T; want masquerade", rules[0].Exprs[len(rules[0].Exprs)-1])
	}
	handle := rules[0].Handle

	// Idempotent: the rule is kept, not rewritten.
	if err := e.host.EnsureNAT(n); err != nil {
		t.Fatal(err)
	}
	if _, rules = e.nftRules(t, n.Table, natChain); len(rules) != 1 || rules[0].Handle != handle {
		t.Errorf("second EnsureNAT rewrote the rule")
	}

	// A rule added by hand, or another subnet: the table is replaced.
	tb := &nftables.Table{Name: n.Table, Family: nftables.TableFamilyIPv4}
	c.AddRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: natChain, Table: tb}, Exprs: []expr.Any{&expr.Masq{}}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	n.Subnet = netip.MustParsePrefix("10.78.0.1/16")
	if err := e.host.EnsureNAT(n); err != nil {
		t.Fatal(err)
	}
	if _, rules = e.nftRules(t, n.Table, natChain); len(rules) != 1 || string(rules[0].UserData) != "microvm masquerade 10.78.0.0/16" {
		t.Errorf("after a change: %d rules, first tagged %q", len(rules), rules[0].UserData)
	}

	for range 2 {
		if err := e.host.DeleteNAT(n.Table); err != nil {
			t.Fatal(err)
		}
	}
	if tables, _ = e.nftRules(t, n.Table, natChain); len(tables) != 1 || tables[0] != "other" {
		t.Errorf("tables after DeleteNAT: %v; want only other", tables)
	}
}
