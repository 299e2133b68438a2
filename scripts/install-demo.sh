# shellcheck shell=bash
# install.sh --demo: builds examples/demo, pushes it to a local registry on
# 127.0.0.1:5555 (started here), trusts this machine's operator key and
# deploys the app with the deploy CLI, like a user would. Sourced by install.sh.

DEMO_DIR="$SRC/examples/demo"
DEMO_REGISTRY=127.0.0.1:5555
DEMO_REPO=demo
DEMO_TAG=latest
DEMO_LIB=/var/lib/berth-demo
DEMO_HOST=demo.localhost
MANIFEST_TYPES='application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json'

demo_registry_up() { curl -fsS --max-time 2 "http://$DEMO_REGISTRY/v2/"; }

ensure_demo_registry() {
  if demo_registry_up >/dev/null 2>&1; then unchanged "demo registry" "$DEMO_REGISTRY"; return; fi
  install -d -m 700 "$DEMO_LIB/registry"
  write_if_changed "$ETC/demo-registry.yml" "version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DEMO_LIB/registry
http:
  addr: $DEMO_REGISTRY" || true
  setsid nohup docker-registry serve "$ETC/demo-registry.yml" >>"$LOGS/demo-registry.log" 2>&1 </dev/null &
  echo $! >"$RUN/demo-registry.pid"
  wait_for 20 "the demo registry (see $LOGS/demo-registry.log)" demo_registry_up
  changed "demo registry" "started on $DEMO_REGISTRY (pid $(cat "$RUN/demo-registry.pid"))"
}

# A hash of what goes into the image; stored as a label so an unchanged app is not rebuilt.
demo_context_hash() {
  (cd "$DEMO_DIR" && {
    find Dockerfile start.sh www -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum /bin/busybox | cut -d' ' -f1
    echo "$1"
  } | sha256sum | cut -d' ' -f1)
}

# The label value on the registry's demo:latest, empty when absent.
demo_registry_label() {
  # shellcheck disable=SC2016 # JavaScript, not shell, in the quotes
  node --input-type=module -e '
    const [registry, repo, tag, accept] = process.argv.slice(1);
    try {
      const m = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { headers: { Accept: accept } });
      if (!m.ok) process.exit(0);
      const digest = (await m.json())?.config?.digest;
      if (typeof digest !== "string") process.exit(0);
      const blob = await fetch(`http://${registry}/v2/${repo}/blobs/${digest}`);
      if (!blob.ok) process.exit(0);
      const label = (await blob.json())?.config?.Labels?.["berth.demo.context"];
      if (typeof label === "string") process.stdout.write(label);
    } catch { /* unreachable registry: treat as absent */ }
  ' "$DEMO_REGISTRY" "$DEMO_REPO" "$DEMO_TAG" "$MANIFEST_TYPES"
}

demo_digest() {
  curl -fsSI -H "Accept: $MANIFEST_TYPES" "http://$DEMO_REGISTRY/v2/$DEMO_REPO/manifests/$DEMO_TAG" \
    | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *\(sha256:[0-9a-f]\{64\}\)$/\1/p'
}

ensure_demo_image() {
  local version hash ref="$DEMO_REGISTRY/$DEMO_REPO:$DEMO_TAG"
  version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$SRC/package.json" | head -1)
  hash=$(demo_context_hash "$version")
  if [[ "$(demo_registry_label)" == "$hash" ]]; then unchanged "demo image" "$ref"; return; fi
  local ctx
  ctx=$(mktemp -d)
  cp -a "$DEMO_DIR/Dockerfile" "$DEMO_DIR/start.sh" "$DEMO_DIR/www" "$ctx/"
  cp /bin/busybox "$ctx/busybox"
  local out
  out=$(DOCKER_BUILDKIT=0 docker build -q -t "$ref" --build-arg "VERSION=$version" --label "berth.demo.context=$hash" "$ctx" 2>&1) \
    || { rm -rf "$ctx"; printf '%s\n' "$out" >&2; die "building the demo image failed"; }
  rm -rf "$ctx"
  docker push "$ref" >/dev/null || die "pushing $ref failed"
  changed "demo image" "built and pushed $ref"
}

# This machine's operator key (root's), created once, trusted by the agent.
ensure_demo_key() {
  local line
  if line=$(deploy keys show 2>/dev/null) && [[ -n "$line" ]]; then
    unchanged "operator key"
  else
    line=$(deploy keys new) || die "deploy keys new failed"
    changed "operator key" "created"
  fi
  line=$(printf '%s\n' "$line" | grep -m1 '^berth-ed25519 ') || die "deploy keys did not print a key line"
  trust_key "$line" deploy
}

ensure_demo_pin() {
  if grep -q "\"127.0.0.1:$AGENT_PORT\"" "$DEMO_DIR/.berth/known_agents" 2>/dev/null; then
    unchanged "demo server pin" "127.0.0.1:$AGENT_PORT"
    return
  fi
  (cd "$DEMO_DIR" && deploy server add "127.0.0.1:$AGENT_PORT" </dev/null >/dev/null) || die "deploy server add failed"
  changed "demo server pin" "127.0.0.1:$AGENT_PORT"
}

demo_page() { curl -fsS --max-time 5 -H "Host: $DEMO_HOST" "http://127.0.0.1:$HTTP_PORT/"; }
demo_serving() { [[ "$(demo_page 2>/dev/null)" == *'Hello from Berth'* ]]; }

ensure_demo_deployed() {
  local digest
  digest=$(demo_digest)
  [[ -n "$digest" ]] || die "the demo registry has no digest for $DEMO_REPO:$DEMO_TAG"
  local marker="$DEMO_LIB/deployed"
  local status
  status=$(cd "$DEMO_DIR" && deploy status --json </dev/null 2>/dev/null) || status=
  # Deployed when the agent reports that digest, or (if its status does not
  # show images) when this script deployed it last and the page is served.
  if [[ "$status" == *"$digest"* ]] || { [[ "$(cat "$marker" 2>/dev/null)" == "$digest" ]] && demo_serving; }; then
    unchanged "demo app" "already deployed (${digest:0:19})"
    return
  fi
  (cd "$DEMO_DIR" && deploy push --version "demo-${digest:7:12}" </dev/null) || die "deploy push of the demo failed"
  echo "$digest" >"$marker"
  changed "demo app" "deployed ${digest:0:19}"
}

deploy_demo() {
  install -d -m 700 "$DEMO_LIB"
  ensure_demo_registry
  ensure_demo_image
  ensure_demo_key
  ensure_demo_pin
  ensure_demo_deployed
  wait_for 30 "the demo app through the router" demo_serving
}

demo_summary() {
  local port=""
  [[ "$HTTP_PORT" == 80 ]] || port=":$HTTP_PORT"
  echo "The demo app is served by the router. Try:"
  echo "  curl -H 'Host: $DEMO_HOST' http://127.0.0.1$port/"
}
