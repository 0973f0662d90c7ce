# Shared by scripts/run and scripts/test: install what is missing on a Debian/Ubuntu machine.
# Sourced, not executed.

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_apt_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            log "installing Rust with rustup"
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
            export PATH="$HOME/.cargo/bin:$PATH"
        fi
    fi
}

# The build needs a C toolchain (SQLite, aws-lc), pkg-config, and FFmpeg's libraries with their
# headers (ffmpeg-next binds them through bindgen, hence clang). The ffmpeg CLI regenerates the
# fixtures and is the peer in the media benchmark.
ensure_build_deps() {
    ensure_apt_packages build-essential pkg-config ca-certificates curl clang libclang-dev \
        libavcodec-dev libavformat-dev libavutil-dev libavfilter-dev libswscale-dev \
        libswresample-dev ffmpeg
    ensure_rust
}

# cargo-deny checks the dependencies' licences (offline: no advisory database is fetched).
ensure_cargo_deny() {
    if ! cargo deny --version >/dev/null 2>&1; then
        log "installing cargo-deny"
        cargo install --locked --quiet cargo-deny
    fi
}

# Python tools the tests drive as real peers: moto (an S3 server with Object Lock),
# python-swiftclient (the Axis/Swift door) and tuspy (the tus door).
ensure_venv() {
    ensure_apt_packages python3 python3-venv
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        python3 -m venv .venv
        .venv/bin/pip install -q --upgrade pip
    fi
    if ! .venv/bin/python -c "import moto, swiftclient, tusclient, requests, oidc_provider_mock, playwright, pytest_playwright, axe_playwright_python" 2>/dev/null; then
        log "installing test clients into .venv: moto[server], python-swiftclient, tuspy, requests, oidc-provider-mock, playwright, pytest, axe"
        .venv/bin/pip install -q -r tests/clients/requirements.txt
    fi
}

# Debian's chromium for the browser tests: Playwright drives it at /usr/bin/chromium and never
# downloads a browser of its own.
ensure_browser() {
    ensure_apt_packages chromium fonts-dejavu-core
}

# Use PostgreSQL on 127.0.0.1:5432 if it answers; otherwise install and start Debian's cluster.
ensure_postgres() {
    ensure_apt_packages postgresql-client
    if pg_isready -q -h 127.0.0.1 -p 5432; then
        return
    fi
    ensure_apt_packages postgresql
    log "starting PostgreSQL"
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if command -v pg_ctlcluster >/dev/null; then
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
    pg_isready -h 127.0.0.1 -p 5432
    # Tests connect as postgres over loopback without a password, as on CI machines.
    if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; then
        log "allowing passwordless loopback connections for the postgres user (test machines only)"
        local hba="/etc/postgresql/$version/main/pg_hba.conf"
        $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    fi
}

# The soak's Node docks (tests/soak/tus_dock.mjs) upload through tus-js-client, pinned in
# tests/soak/package-lock.json. (Its footage comes from the ffmpeg CLI, its checks use psql:
# ensure_build_deps and ensure_postgres install those.)
ensure_soak_clients() {
    if ! command -v npm >/dev/null 2>&1; then
        ensure_apt_packages nodejs npm
    fi
    if [ ! -d tests/soak/node_modules/tus-js-client ]; then
        log "installing tus-js-client into tests/soak (npm ci)"
        (cd tests/soak && npm ci --no-audit --no-fund --silent)
    fi
}
