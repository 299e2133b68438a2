// What `deploy init` writes: a commented Kamal 2 config/deploy.yml that Berth
// loads as is, and a .kamal/secrets that names where secrets come from.

export const STARTER_DEPLOY_YML = `# Berth reads Kamal 2's config/deploy.yml. Kamal keys that mean nothing to
# Berth's pull-based agents (ssh, builder) are accepted with a warning.

# Your application's name: used in container names, routes and the agents' records.
service: my-app

# The image to deploy. Build and push it yourself (e.g. in CI);
# \`deploy push\` resolves the tag to a digest and every server pulls exactly that.
image: my-user/my-app:latest

# Servers to deploy to, per role. Each runs berth-agent (https://HOST:7443);
# pin each one once with \`deploy server add HOST\`.
servers:
  web:
    - 192.168.0.1
  # job:
  #   hosts:
  #     - 192.168.0.1
  #   cmd: bin/jobs

# The router serves the primary role (web) on these host names, and checks
# the health path before switching traffic to a new release.
proxy:
  host: app.example.com
  # The port the app listens on inside the container (default 80).
  app_port: 3000
  # healthcheck:
  #   path: /up
  #   interval: 1
  #   timeout: 5

# A private registry. The password names a secret from .kamal/secrets.
# registry:
#   server: ghcr.io
#   username: my-user
#   password:
#     - KAMAL_REGISTRY_PASSWORD

# Environment: clear values are written here; secret names are read from
# .kamal/secrets and travel sealed to each server.
env:
  clear:
    PORT: "3000"
  # secret:
  #   - RAILS_MASTER_KEY

# Destinations: put per-destination keys in config/deploy.staging.yml and
# deploy with -d staging.

# Seconds a new release has to become healthy (default 30), and how many old
# containers each server keeps for rollbacks (default 5).
# deploy_timeout: 30
# retain_containers: 5

# Berth: where the agents listen, if not on port 7443.
# agent:
#   port: 7443
`;

export const STARTER_SECRETS = `# Secrets for config/deploy.yml, in dotenv form, as Kamal 2 reads them.
# A value can come from your environment ($VAR) or a command ($(command)),
# so this file can name where secrets live without holding them.
# Do not commit secret values.
#
# KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD
# RAILS_MASTER_KEY=$(cat config/master.key)
`;
