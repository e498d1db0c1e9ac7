#!/usr/bin/env bash
# Prepare a Debian/Ubuntu machine to run Juice locally: system packages (ffmpeg, Redis, Ceph RGW,
# ZooKeeper) and the project's virtualenv at <repo>/.venv. Idempotent: a second run changes nothing
# and takes a second or two. Starts no system services; Juice starts its own on free loopback ports.
#
#   deploy/bootstrap.sh && .venv/bin/juice demo
#   deploy/bootstrap.sh && .venv/bin/pytest
#
# Environment: PYTHON (interpreter for the venv, default python3, must be >= 3.11).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PYTHON="${PYTHON:-python3}"
APT_PACKAGES=(ffmpeg redis-server ceph-mon ceph-osd radosgw ceph-common uuid-runtime zookeeper)

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

is_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

venv_works() {
  local probe
  probe="$(mktemp -d)"
  if "$PYTHON" -m venv "$probe/v" >/dev/null 2>&1 && [ -x "$probe/v/bin/python" ]; then
    rm -rf "$probe"
    return 0
  fi
  rm -rf "$probe"
  return 1
}

missing_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    is_installed "$pkg" || printf '%s\n' "$pkg"
  done
  if [ ! -x "$VENV/bin/python" ] && ! venv_works; then
    is_installed python3-venv || printf '%s\n' python3-venv
  fi
}

# Package scripts must not start daemons (e.g. redis-server on 6379): deny service starts while apt runs,
# unless the machine already has its own policy.
install_packages() {
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap 'as_root rm -f '"$policy" EXIT
  fi
  say "apt-get update"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  say "installing: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_packages() {
  command -v dpkg-query >/dev/null 2>&1 || die "this script supports Debian/Ubuntu (dpkg/apt) only"
  local missing
  mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    say "system packages present"
  else
    install_packages "${missing[@]}"
  fi
}

check_python() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON to a Python >= 3.11)"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "$("$PYTHON" -V 2>&1) is too old; Juice needs Python >= 3.11 (set PYTHON=python3.11 or newer)"
}

ensure_venv() {
  if [ -x "$VENV/bin/python" ]; then
    say "virtualenv present at .venv"
    return
  fi
  check_python
  say "creating virtualenv at .venv"
  "$PYTHON" -m venv "$VENV"
}

# The dist-info of the installed project; its METADATA is rewritten on every `pip install -e`.
installed_metadata() {
  local meta
  for meta in "$VENV"/lib/python*/site-packages/juice-*.dist-info/METADATA; do
    [ -f "$meta" ] && { printf '%s\n' "$meta"; return 0; }
  done
  return 1
}

ensure_project() {
  local meta
  if meta="$(installed_metadata)" && [ "$meta" -nt "$REPO_ROOT/pyproject.toml" ]; then
    say "juice[dev] installed and up to date"
    return
  fi
  say "pip install -e '.[dev]'"
  "$VENV/bin/python" -m pip install --quiet -e "$REPO_ROOT[dev]"
  # pip may keep the old METADATA when nothing changed; mark the install as done now.
  meta="$(installed_metadata)" || die "pip finished but the juice package metadata is missing"
  touch "$meta"
}

main() {
  ensure_packages
  ensure_venv
  ensure_project
  say "ready: .venv/bin/juice, .venv/bin/pytest"
}

main "$@"
