#!/usr/bin/env bash
# Installs Berth on this server from this checkout: the Docker engine if
# missing, the agent and router (systemd units, or background processes when
# systemd is not running), the agent's identity, and optionally a trusted
# operator key and the bundled demo app. Idempotent: a second run changes
# nothing and says so.
#
#   sudo ./install.sh [--trust 'berth-ed25519 ...' [--scope deploy]]
#                     [--http-port 80] [--https-port 443] [--no-start] [--demo]
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo ./install.sh [options]

  --trust 'LINE'     trust an operator key (the line `deploy keys new` prints)
  --scope SCOPE      its scope: read, deploy (default) or admin
  --http-port PORT   router HTTP port (default 80)
  --https-port PORT  router HTTPS port (default 443)
  --no-start         install and configure, but do not start the agent and router
  --demo             also deploy the bundled example app (examples/demo) to this server
  -h, --help         this text
EOF
}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/berth
ETC=/etc/berth
STATE=/var/lib/berth
RUN=/run/berth
LOGS=/var/log/berth
AGENT_PORT=7443
HTTP_PORT=80
HTTPS_PORT=443
TRUST_LINE=
SCOPE=deploy
SCOPE_GIVEN=0
START=1
DEMO=0
CHANGED=0

die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %-28s %s\n' "$1:" "$2"; }
changed() { CHANGED=1; step "$1" "$2"; }
unchanged() { step "$1" "unchanged${2:+ ($2)}"; }
need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --trust) need_arg "$@"; TRUST_LINE=$2; shift 2 ;;
    --scope) need_arg "$@"; SCOPE=$2; SCOPE_GIVEN=1; shift 2 ;;
    --http-port) need_arg "$@"; HTTP_PORT=$2; shift 2 ;;
    --https-port) need_arg "$@"; HTTPS_PORT=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    --demo) DEMO=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

valid_port() { [[ "$1" =~ ^[0-9]{1,5}$ ]] && (( 10#$1 >= 1 && 10#$1 <= 65535 )); }
valid_port "$HTTP_PORT" || die "--http-port must be a port number (1-65535)"
valid_port "$HTTPS_PORT" || die "--https-port must be a port number (1-65535)"
[[ "$SCOPE" =~ ^(read|deploy|admin)$ ]] || die "--scope must be read, deploy or admin"
[[ $SCOPE_GIVEN == 0 || -n "$TRUST_LINE" ]] || die "--scope only goes with --trust"
[[ -z "$TRUST_LINE" || "$TRUST_LINE" == berth-ed25519\ * ]] || die "--trust takes a key line starting with berth-ed25519 (from \`deploy keys new\`)"
[[ $DEMO == 0 || $START == 1 ]] || die "--demo needs the agent and router running; drop --no-start"
[[ $(id -u) == 0 ]] || die "run as root (sudo ./install.sh)"
command -v apt-get >/dev/null || die "this installer supports Debian and Ubuntu (apt-get not found)"

# shellcheck source=scripts/install-lib.sh
source "$SRC/scripts/install-lib.sh"
# shellcheck source=scripts/install-demo.sh
source "$SRC/scripts/install-demo.sh"

install_packages
ensure_docker
ensure_node
build_checkout
install_files
ensure_dirs
ensure_identity
[[ -z "$TRUST_LINE" ]] || trust_key "$TRUST_LINE" "$SCOPE"
configure_services
if [[ $START == 1 ]]; then start_services; else step "services" "not started (--no-start)"; fi
[[ $DEMO == 0 ]] || deploy_demo
summary
