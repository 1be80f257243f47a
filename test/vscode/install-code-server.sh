#!/usr/bin/env bash
# Installs code-server (VS Code 1.100.3 served to a browser) from the npm registry into a cache
# folder outside the project's node_modules. The extension-host suite and the Playwright tests
# run in it wherever desktop VS Code cannot be downloaded. Safe to rerun: a verified install is
# left alone, a broken or partial one is replaced.
#
# Needs Node 20 (code-server 4.100.3 refuses any other major), a C++ toolchain and Python 3
# (node-gyp builds node-pty, kerberos and argon2), ripgrep, and the -dev packages of
# libkrb5, libsecret, libx11 and libxkbfile.
#
# Where: ${KILN_CACHE_DIR:-<repo>/.cache}/code-server
set -euo pipefail

readonly version=4.100.3
# code-server 4.100.3's lockfile pins @vscode/ripgrep 1.15.11, whose postinstall downloads
# ripgrep v13.0.0-10 from GitHub. That host is out of reach on locked-down machines, but the
# postinstall first looks for the archive in $TMPDIR/vscode-ripgrep-cache-1.15.11, so an archive
# of the system rg placed there satisfies it.
readonly ripgrep_package_version=1.15.11
readonly ripgrep_release=v13.0.0-10

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
install_dir="${KILN_CACHE_DIR:-$repo_root/.cache}/code-server"
code_server="$install_dir/node_modules/.bin/code-server"
vscode_dir="$install_dir/node_modules/code-server/lib/vscode"

fail() {
  echo "install-code-server: $*" >&2
  exit 1
}

# Each file below is written by an install script (code-server's postinstall, or the npm
# installs it runs in lib/vscode), so their presence proves the scripts ran and did not just
# leave an unpacked tarball behind.
missing_pieces() {
  local piece
  for piece in \
    "$code_server" \
    "$vscode_dir/node_modules.asar" \
    "$vscode_dir/bin/remote-cli/code-server" \
    "$vscode_dir/node_modules/node-pty/build/Release/pty.node" \
    "$vscode_dir/node_modules/@vscode/ripgrep/bin/rg" \
    "$vscode_dir/extensions/node_modules"; do
    [[ -e $piece ]] || echo "$piece"
  done
}

installed_version() {
  # --version writes a default config file (and logs that on stdout before the version line);
  # keep that file in the install folder rather than in ~/.config.
  "$code_server" --config "$install_dir/config.yaml" --version 2>/dev/null |
    awk '$1 ~ /^[0-9]+\.[0-9]+\.[0-9]+$/ { print $1; exit }'
}

if [[ -z $(missing_pieces) && $(installed_version) == "$version" ]]; then
  echo "code-server $version is already installed in $install_dir"
  exit 0
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) ||
  fail "node is not on PATH; install Node 20 first."
[[ $node_major == 20 ]] ||
  fail "code-server $version needs Node 20, and node is $(node --version). Put Node 20 first on PATH."
for tool in rg make g++ python3; do
  command -v "$tool" >/dev/null ||
    fail "'$tool' is missing. On Debian: apt-get install -y ripgrep build-essential python3 libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev"
done

case $(uname -m) in
  x86_64) ripgrep_target=x86_64-unknown-linux-musl ;;
  aarch64) ripgrep_target=aarch64-unknown-linux-musl ;;
  *) fail "no ripgrep archive name is known for $(uname -m); only x86_64 and aarch64 Linux are supported." ;;
esac

echo "Installing code-server $version into $install_dir"
rm -rf "$install_dir"
mkdir -p "$install_dir"

# The ripgrep archive goes in a temp folder inside the install folder: the postinstall derives
# its cache path from os.tmpdir(), which follows TMPDIR.
install_tmp="$install_dir/tmp"
ripgrep_cache="$install_tmp/vscode-ripgrep-cache-$ripgrep_package_version"
mkdir -p "$ripgrep_cache/pack"
cp "$(command -v rg)" "$ripgrep_cache/pack/rg"
tar czf "$ripgrep_cache/ripgrep-$ripgrep_release-$ripgrep_target.tar.gz" -C "$ripgrep_cache/pack" rg

# allowScripts approves the two packages whose install scripts are needed (npm 11 reviews
# dependency install scripts); code-server's postinstall then runs `npm install` in lib/vscode
# and lib/vscode/extensions, which builds the native modules.
cat >"$install_dir/package.json" <<EOF
{
  "private": true,
  "description": "code-server for Kiln's extension-host and end-to-end tests, installed by test/vscode/install-code-server.sh",
  "dependencies": { "code-server": "$version" },
  "allowScripts": { "code-server": true, "argon2": true }
}
EOF

# npm_config_unsafe_perm: code-server's postinstall refuses to run as root unless it sees this
# variable. npm 11 no longer knows the setting (it warns "Unknown env config"), so it is put in
# the environment the postinstall inherits instead of relying on npm to pass --unsafe-perm on.
# npm_config_yes: node-pty's install runs `npx node-gyp`, which would otherwise wait for a "y".
(
  cd "$install_dir"
  TMPDIR="$install_tmp" npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund
) || fail "npm install of code-server $version failed (output above). If a native module failed to build, install the Debian packages listed at the top of $0 and rerun."

missing=$(missing_pieces)
[[ -z $missing ]] || fail "code-server's install scripts did not finish; missing:
$missing
Check 'npm install-scripts ls' in $install_dir (npm may have skipped unapproved scripts), then rerun $0."
[[ $(installed_version) == "$version" ]] ||
  fail "$code_server does not start ('$code_server --version' failed). Rerun $0 to reinstall."

rm -rf "$install_tmp"
echo "code-server $version installed in $install_dir"
