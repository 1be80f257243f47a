#!/usr/bin/env bash
# The main job: the bundled runtime deploys the spec's text-to-image example, serves it, and
# shows the response and the logs. Run it with `npm run demo` (which builds first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kiln() {
  printf '\n\033[1m$ kiln %s\033[0m\n' "$*"
  node dist/cli.js "$@"
}

kiln runtime start --detach
kiln runtime status
kiln deploy examples/text_to_image.py
kiln invoke text-to-image /generate --data '{"prompt": "a lighthouse at dusk", "steps": 12}'
kiln invoke text-to-image /generate --data '{"prompt": "a lighthouse at dusk", "steps": 500}' || true
kiln logs text-to-image --tail 12
kiln list

cat <<'MSG'

The runtime keeps running, and text-to-image stays deployed: open the image_url above in a
browser, or try `bin/kiln invoke text-to-image /generate --data '{"prompt": "..."}'`.
Stop it with `bin/kiln runtime stop`.
MSG
