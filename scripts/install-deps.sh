#!/usr/bin/env bash
# Installs the Debian packages the demo and the boot tests need, when they
# are missing: qemu (the hypervisor), a static busybox and a distribution
# kernel (the demo guest), e2fsprogs (volume images), qemu-utils (qemu-img:
# overlays of base images), systemd-container (systemd-nspawn: the systemd
# tier boots a real systemd in a container), debootstrap and
# openssh-client (the Debian tier).
set -euo pipefail
pkgs=(qemu-system-x86 qemu-utils busybox-static linux-image-cloud-amd64 e2fsprogs systemd-container debootstrap openssh-client make gcc git)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
