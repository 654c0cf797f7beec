# Shared by scripts/serve and scripts/test: install what halqa needs, once.
# Re-runs are quick: each step is skipped when its inputs have not changed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

# apt_install PACKAGE ...  installs Debian packages.
apt_install() {
  say "installing Debian packages: $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure_apt PROGRAM:PACKAGE ...  installs Debian packages whose program is missing.
ensure_apt() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
  done
  [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
}

# ensure_apt_files PATH:PACKAGE ...  the same for packages that bring a file, not a program.
ensure_apt_files() {
  local missing=() pair
  for pair in "$@"; do
    [ -e "${pair%%:*}" ] || missing+=("${pair##*:}")
  done
  [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
}

# ensure_python_env [EXTRA]  a virtualenv in .venv with halqa installed (editable).
ensure_python_env() {
  local extra="${1:-}" spec="." stamp
  [ -n "$extra" ] && spec=".[$extra]"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "halqa needs Python 3.11+"'
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV" || { apt_install python3-venv; "$PYTHON" -m venv "$VENV"; }
  fi
  stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-${extra:-base}"
  if [ ! -f "$stamp" ]; then
    say "installing halqa's Python dependencies ($spec)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT$( [ -n "$extra" ] && echo "[$extra]")"
    touch "$stamp"
  fi
}

# ensure_client  the browser client's npm packages (socket.io-client, axe-core).
ensure_client() {
  ensure_apt "npm:npm"
  local stamp="$ROOT/client/node_modules/.installed-$(sha256sum "$ROOT/client/package-lock.json" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "installing the client's npm packages"
    (cd "$ROOT/client" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}
