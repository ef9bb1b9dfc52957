#!/usr/bin/env bash
# Installs the Debian packages the demo and the boot tests need, when they
# are missing: qemu (the hypervisor), a static busybox and a distribution
# kernel (the demo guest), e2fsprogs (volume images), qemu-utils (qemu-img:
# overlays of base images), systemd-container (systemd-nspawn: the systemd
# tier boots a real systemd in a container), debootstrap and
# openssh-client (the Debian tier), and prometheus (/usr/bin/prometheus and
# /usr/bin/promtool: a real Prometheus scrapes the daemon, promtool lints
# its metrics). prometheus comes without its recommendations (node
# exporter and friends), which the tests do not use; its package enables
# a prometheus.service, which systemd hosts then run on :9090.
set -euo pipefail
pkgs=(qemu-system-x86 qemu-utils busybox-static linux-image-cloud-amd64 e2fsprogs systemd-container debootstrap openssh-client make gcc git)
bare=(prometheus)
missing=() missingBare=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${bare[@]}"; do installed "$p" || missingBare+=("$p"); done
[ ${#missing[@]} -eq 0 ] && [ ${#missingBare[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]} ${missingBare[*]}; run as root: apt-get install -y ${missing[*]} ${missingBare[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ ${#missing[@]} -eq 0 ] || apt-get install -y -qq "${missing[@]}"
[ ${#missingBare[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missingBare[@]}"
