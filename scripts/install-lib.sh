# shellcheck shell=bash
# The steps of install.sh (sourced by it; uses its variables). Each step looks
# first and acts only when something differs, and says which it was.

is_systemd() { [[ -d /run/systemd/system ]]; }

pkg_installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [[ $APT_UPDATED == 0 ]]; then apt-get update -q >/dev/null; APT_UPDATED=1; fi
  apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# Installs whichever of the given packages are missing; prints what it did.
ensure_packages() {
  local what=$1; shift
  local missing=() pkg
  for pkg in "$@"; do pkg_installed "$pkg" || missing+=("$pkg"); done
  if [[ ${#missing[@]} == 0 ]]; then unchanged "$what"; return; fi
  apt_install "${missing[@]}"
  changed "$what" "installed ${missing[*]}"
}

install_packages() {
  # zstd: the agent compresses backups with the host's zstd program.
  local pkgs=(ca-certificates curl openssl iproute2 procps zstd)
  command -v dockerd >/dev/null || pkgs+=(docker.io)
  [[ $DEMO == 0 ]] || pkgs+=(docker-registry busybox-static)
  ensure_packages "packages" "${pkgs[@]}"
}

wait_for() { # SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2 i; shift 2
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$what did not come up within ${seconds}s"
}

# A daemon killed without cleaning up leaves its pid file behind. When that pid
# has since been reused by another process, dockerd believes the old dockerd
# (or its containerd) still runs: it refuses to start, or waits for a
# containerd socket that never comes. Only a file whose process is alive and
# has the expected name is kept.
clear_stale_pidfile() { # FILE PROCESS-NAME
  local file=$1 name=$2 pid
  [[ -f "$file" ]] || return 0
  pid=$(tr -dc '0-9' <"$file")
  # A zombie keeps its name in /proc, and dockerd counts it as running.
  if [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] &&
    ! ps -o stat= -p "$pid" | grep -q '^Z'; then return 0; fi
  rm -f "$file"
  step "stale pid file" "removed $file (pid ${pid:-none} is not a running $name)"
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then unchanged "docker engine" "running"; return; fi
  if is_systemd; then
    systemctl enable --now docker >/dev/null 2>&1 || systemctl start docker
  else
    mkdir -p /var/log
    clear_stale_pidfile /var/run/docker.pid dockerd
    clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
    setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  fi
  wait_for 60 "the Docker engine (see /var/log/dockerd.log or journalctl -u docker)" docker info
  changed "docker engine" "started"
}

# MAJOR.MINOR of the installed node, e.g. 20.19; empty when there is none.
node_version() { node --version 2>/dev/null | sed -n 's/^v\([0-9]*\.[0-9]*\)\..*/\1/p'; }

# age-encryption (backup files) needs Node.js 20.19 or newer.
node_new_enough() {
  local major=${1%%.*} minor=${1#*.}
  (( major > 20 || (major == 20 && minor >= 19) ))
}

node_advice() {
  cat >&2 <<'EOF'
Berth needs Node.js 20.19 or newer. Debian 12 ships Node.js 18, which is too old.
Install Node.js 20.19+ first, for example from https://nodejs.org/en/download
(the Linux x64 tarball, unpacked into /usr/local), or from NodeSource's
Debian repository, then run this installer again.
EOF
}

ensure_node() {
  local version
  version=$(node_version)
  if [[ -z "$version" ]]; then
    local candidate
    candidate=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]*:\)\{0,1\}\([0-9]*\.[0-9]*\).*/\2/p')
    if [[ -n "$candidate" ]] && node_new_enough "$candidate"; then
      apt_install nodejs npm
      changed "node.js" "installed $(node --version)"
      return
    fi
    node_advice; die "Node.js is not installed and the distribution's is older than 20.19"
  fi
  if ! node_new_enough "$version"; then
    node_advice; die "found Node.js $(node --version), need >= 20.19"
  fi
  command -v npm >/dev/null || die "npm is missing beside node $(node --version)"
  unchanged "node.js" "$(node --version)"
}

# npm ci and npm run build in the checkout, when stale.
build_checkout() {
  cd "$SRC" || die "cannot enter $SRC"
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    # better-sqlite3 compiles its native module with the machine's compiler.
    ensure_packages "build tools" g++ make python3
    npm ci --no-audit --no-fund >/dev/null
    changed "dependencies" "npm ci"
  else
    unchanged "dependencies"
  fi
  local newer=
  if [[ -f dist/bin/berth-agent.js && -f dist/bin/deploy.js ]]; then
    newer=$(find agent cli shared scripts/postbuild.mjs package.json tsconfig.json -newer dist/bin/berth-agent.js -print -quit)
  else
    newer=missing
  fi
  if [[ -n "$newer" ]]; then
    npm run build >/dev/null || die "npm run build failed in $SRC (run it there to see the errors)"
    changed "build" "npm run build"
  else
    unchanged "build"
  fi
}

install_stamp() {
  (cd "$SRC" && {
    find dist/bin -type f ! -name '*.map' -print0 | sort -z | xargs -0 sha256sum
    sha256sum package.json package-lock.json
  } | sha256sum | cut -d' ' -f1)
}

INSTALL_CHANGED=0
install_files() {
  local stamp
  stamp=$(install_stamp)
  if [[ -f "$PREFIX/.install-stamp" && "$(cat "$PREFIX/.install-stamp")" == "$stamp" ]]; then
    unchanged "files in $PREFIX"
  else
    local next="$PREFIX.new" dir
    rm -rf "$next"
    mkdir -p "$next/dist"
    cp -a "$SRC/package.json" "$SRC/package-lock.json" "$next/"
    # The bundled binaries and their source maps are all that runs (scripts/postbuild.mjs).
    cp -a "$SRC/dist/bin" "$next/dist/"
    # The checkout's built node_modules, pruned: no native rebuild needed.
    cp -a "$SRC/node_modules" "$next/"
    (cd "$next" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1) || die "npm prune failed in $next"
    # Executable whatever umask the build ran under: the links point at them.
    chmod 755 "$next/dist/bin/berth-agent.js" "$next/dist/bin/deploy.js"
    echo "$stamp" >"$next/.install-stamp"
    rm -rf "$PREFIX.old"
    if [[ -d "$PREFIX" ]]; then mv "$PREFIX" "$PREFIX.old"; fi
    mv "$next" "$PREFIX"
    rm -rf "$PREFIX.old"
    INSTALL_CHANGED=1
    changed "files in $PREFIX" "installed"
  fi
  local link target
  for link in deploy berth-agent; do
    target="$PREFIX/dist/bin/$link.js"
    if [[ "$(readlink "/usr/local/bin/$link" 2>/dev/null)" == "$target" ]]; then continue; fi
    ln -sfn "$target" "/usr/local/bin/$link"
    changed "link /usr/local/bin/$link" "-> $target"
  done
}

DIRS_CHANGED=0
ensure_dir() { # DIR MODE
  if [[ -d "$1" && "$(stat -c %a "$1")" == "$2" ]]; then return; fi
  install -d -m "$2" "$1"
  DIRS_CHANGED=1
  changed "directory $1" "mode $2"
}

ensure_dirs() {
  ensure_dir "$ETC" 755
  ensure_dir "$STATE" 700
  ensure_dir "$RUN" 755
  ensure_dir "$LOGS" 750
  [[ $DIRS_CHANGED == 1 ]] || unchanged "directories"
}

ensure_identity() {
  if [[ -f "$STATE/identity.jwk" ]]; then unchanged "agent identity"; return; fi
  local sans=(--san 127.0.0.1 --san localhost) host
  host=$(hostname 2>/dev/null || true)
  [[ -z "$host" || "$host" == localhost ]] || sans=(--san "$host" "${sans[@]}")
  berth-agent init --state-dir "$STATE" "${sans[@]}" >/dev/null
  changed "agent identity" "created"
}

trust_key() { # LINE SCOPE
  local out
  out=$(berth-agent trust add "$1" --scope "$2" --state-dir "$STATE")
  if [[ "$out" == *"already trusted"* ]]; then unchanged "trusted key" "scope $2"; else changed "trusted key" "$out"; fi
}

# Writes FILE with CONTENT when it differs; returns 0 when it wrote.
write_if_changed() {
  if [[ -f "$1" && "$(cat "$1")" == "$2" ]]; then return 1; fi
  printf '%s\n' "$2" >"$1"
}

ROUTER_CFG_CHANGED=0
AGENT_CFG_CHANGED=0
router_env() {
  local env="BERTH_HTTP_LISTEN=0.0.0.0:$HTTP_PORT"
  # Passed on only once the router knows it (an unknown option stops it).
  if berth-agent router --help 2>&1 | grep -q -- '--https-listen'; then
    env+=$'\n'"BERTH_HTTPS_LISTEN=0.0.0.0:$HTTPS_PORT"
  fi
  printf '# Written by install.sh (--http-port / --https-port).\n%s' "$env"
}

configure_services() {
  if write_if_changed "$ETC/router.env" "$(router_env)"; then ROUTER_CFG_CHANGED=1; changed "$ETC/router.env" "written"; fi
  if write_if_changed "$ETC/agent.env" "# Agent settings (see berth-agent --help), e.g. BERTH_LISTEN=0.0.0.0:$AGENT_PORT"; then
    AGENT_CFG_CHANGED=1; changed "$ETC/agent.env" "written"
  fi
  if ! is_systemd; then unchanged "systemd units" "systemd is not running; using background processes"; return; fi
  local unit units_changed=0
  for unit in berth-agent berth-router; do
    if write_if_changed "/etc/systemd/system/$unit.service" "$(cat "$SRC/systemd/$unit.service")"; then
      units_changed=1
      [[ $unit == berth-agent ]] && AGENT_CFG_CHANGED=1 || ROUTER_CFG_CHANGED=1
      changed "unit $unit.service" "installed"
    fi
  done
  [[ $units_changed == 0 ]] || systemctl daemon-reload
  for unit in berth-router berth-agent; do
    if ! systemctl is-enabled --quiet "$unit"; then systemctl enable --quiet "$unit"; changed "unit $unit.service" "enabled"; fi
  done
}

router_up() { curl -fsS --max-time 2 --unix-socket "$RUN/router.sock" http://router/health; }
agent_up() { curl -fsS --max-time 2 --insecure "https://127.0.0.1:$AGENT_PORT/v1/health"; } # liveness only, no trust involved

# One background service without systemd: NAME NEED_RESTART ARGS...
background_service() {
  local name=$1 restart=$2; shift 2
  local pidfile="$RUN/$name.pid" pid=
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q berth-agent; then
    if [[ $restart == 0 ]]; then unchanged "$name" "running, pid $pid"; return; fi
    kill "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  # Each gets its unit's memory settings (systemd/berth-agent.service, docs/internals.md "Agent memory";
  # systemd/berth-router.service, docs/router.md "Memory").
  local -a memory=(MALLOC_ARENA_MAX=2 "NODE_OPTIONS=${NODE_OPTIONS:---max-semi-space-size=2}")
  [[ $name == berth-router ]] && memory=(MALLOC_ARENA_MAX=2 "NODE_OPTIONS=${NODE_OPTIONS:---max-semi-space-size=4}")
  env "${memory[@]}" setsid nohup /usr/local/bin/berth-agent "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  changed "$name" "started in the background (no systemd): pid $!, log $LOGS/$name.log"
}

start_services() {
  local router_restart=$((INSTALL_CHANGED | ROUTER_CFG_CHANGED)) agent_restart=$((INSTALL_CHANGED | AGENT_CFG_CHANGED))
  if is_systemd; then
    local unit restart
    for unit in berth-router berth-agent; do
      [[ $unit == berth-router ]] && restart=$router_restart || restart=$agent_restart
      if systemctl is-active --quiet "$unit"; then
        if [[ $restart == 0 ]]; then unchanged "$unit" "active"; continue; fi
        systemctl restart "$unit"; changed "$unit" "restarted"
      else
        systemctl start "$unit"; changed "$unit" "started"
      fi
    done
  else
    background_service berth-router "$router_restart" router --http-listen "0.0.0.0:$HTTP_PORT" --https-listen "0.0.0.0:$HTTPS_PORT"
    background_service berth-agent "$agent_restart" run
  fi
  wait_for 30 "the router (see $LOGS/berth-router.log or journalctl -u berth-router)" router_up
  wait_for 60 "the agent (see $LOGS/berth-agent.log or journalctl -u berth-agent)" agent_up
}

summary() {
  local status id host
  status=$(berth-agent status --json --state-dir "$STATE" 2>/dev/null || true)
  id=$(printf '%s' "$status" | sed -n 's/.*"agent_id":"\([^"]*\)".*/\1/p')
  # The address of the default route, else the first one the host has.
  host=$(ip -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' || true)
  [[ -n "$host" ]] || host=$(hostname -I 2>/dev/null | awk '{print $1}')
  echo
  echo "Berth is installed."
  echo "  agent id:   ${id:-unknown (see berth-agent status)}"
  echo "  agent API:  https://${host:-SERVER}:$AGENT_PORT  (pin it from your app: deploy server add ${host:-SERVER})"
  echo "  router:     http://0.0.0.0:$HTTP_PORT, https://0.0.0.0:$HTTPS_PORT (certificates for proxy ssl: true from Let's Encrypt)"
  if [[ $CHANGED == 0 ]]; then echo "Nothing changed."; else echo "Changes applied."; fi
  [[ $DEMO == 0 ]] || demo_summary
}
