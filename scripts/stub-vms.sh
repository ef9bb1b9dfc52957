# Sourced by the daemon benchmarks: N stub VMs (a shell loop standing in
# for a hypervisor, which stops on microvm-shutdown) and a daemon for
# them. Expects $m (the microvm binary), $work and $n; sets $dpid.

# stub_vms creates vm1 … vm$n from one stub runner in $work/runner.
stub_vms() {
	mkdir -p "$work/runner/bin"
	cat > "$work/runner/bin/microvm-run" <<'SH'
#!/bin/sh
trap 'exit 0' USR1 TERM
while :; do sleep 3600 & wait $!; done
SH
	cat > "$work/runner/bin/microvm-shutdown" <<'SH'
#!/bin/sh
kill -USR1 "$MAINPID"
SH
	chmod +x "$work/runner/bin/"*
	for i in $(seq "$n"); do "$m" create "vm$i" --from "$work/runner" >/dev/null; done
}

# start_daemon starts the daemon (its log in $work/daemon.log) and waits
# for its API socket.
start_daemon() {
	"$m" daemon 2>"$work/daemon.log" &
	dpid=$!
	until [ -S "$work/run/microvm.sock" ]; do sleep 0.05; done
}
