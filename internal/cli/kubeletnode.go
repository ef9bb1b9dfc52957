package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"

	"github.com/prometheus/procfs"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/microvm-host/microvm/internal/hostfacts"
	"github.com/microvm-host/microvm/internal/hypervisor/all"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/kubelet"
)

// kubeletNode probes what the node says about this host.
func kubeletNode(ctx context.Context, e *env, f kubeletFlags) (kubelet.NodeConfig, error) {
	n := kubelet.NodeConfig{Name: f.nodeName, Address: f.address, MaxPods: f.maxPods, Version: "microvm"}
	if n.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return n, fmt.Errorf("node name: %w (pass --node-name)", err)
		}
		n.Name = h
	}
	if n.Address == "" {
		a, err := firstAddress()
		if err != nil {
			return n, err
		}
		n.Address = a
	} else if net.ParseIP(n.Address) == nil {
		return n, usageError("--address %q: expected an IP address", n.Address)
	}
	mem, err := hostMemory()
	if err != nil {
		return n, err
	}
	var errs [4]error
	n.CPU, errs[0] = quantityFlag("cpu", f.cpu, *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI))
	n.Memory, errs[1] = quantityFlag("memory", f.memory, *resource.NewQuantity(mem, resource.BinarySI))
	n.ReserveCPU, errs[2] = quantityFlag("reserve-cpu", f.reserveCPU, resource.Quantity{})
	n.ReserveMemory, errs[3] = quantityFlag("reserve-memory", f.reserveMem, resource.Quantity{})
	for _, err := range errs {
		if err != nil {
			return n, err
		}
	}
	for _, g := range all.Generators() {
		if _, err := exec.LookPath(g.DefaultBinary(hostfacts.Arch())); err == nil {
			n.Hypervisors = append(n.Hypervisors, g.Name())
		}
	}
	facts, err := hostfacts.Probe(ctx, qemu.Generator{}, e.builder.KVM, hostfacts.CacheDir())
	if err != nil {
		return n, fmt.Errorf("probing KVM: %w", err)
	}
	n.KVM = facts.KVM
	if err := n.Check(); err != nil {
		return n, usageError("%v", err)
	}
	return n, nil
}

// hostMemory is the host's memory in bytes.
func hostMemory() (int64, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	mi, err := fs.Meminfo()
	if err != nil || mi.MemTotal == nil {
		return 0, fmt.Errorf("reading the host's memory from /proc/meminfo: %v", err)
	}
	return int64(*mi.MemTotal) << 10, nil
}

// firstAddress is the first global unicast IPv4 address of an interface
// that is up.
func firstAddress() (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String(), nil
			}
		}
	}
	return "", fmt.Errorf("no global IPv4 address on this host for the node: pass --address")
}
