#!/bin/bash
# Installs, on Debian 12, what building and testing carehub needs.  Run as root;
# does nothing when everything is already there.
set -euo pipefail
packages=(build-essential cmake pkg-config clang-format git
          libuv1-dev libzmq3-dev libsqlite3-dev libconfig-dev libcjson-dev libcmocka-dev
          libcurl4-openssl-dev libical-dev libsystemd-dev
          python3 python3-zmq python3-aiosmtpd openssl sqlite3 tzdata procps
          man-db groff-base systemd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
