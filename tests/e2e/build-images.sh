#!/usr/bin/env bash
# Builds the container images the e2e tests run, without any container registry:
#   localhost/sidecar-base:bookworm  a minimal Debian bookworm rootfs (debootstrap), imported
#   localhost/sidecar:dev            the product image, from the repository's Containerfile
#   localhost/mariadb:local          Debian's mariadb-server behind an official-image-like entrypoint
#   localhost/postgres:15            Debian's PostgreSQL 15 the same way, in the <= 17 layout
#   localhost/postgres:18-layout     the same server in PostgreSQL 18's layout (VOLUME
#                                    /var/lib/postgresql, PGDATA /var/lib/postgresql/18/docker)
# Also installs podman-compose into .venv. podman runs on tests/e2e/containers.conf (runc,
# ulimits), the host's settings untouched. Idempotent: the base image is reused when present, the others rebuild from cache.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
base_image="${SIDECAR_BASE_IMAGE:-localhost/sidecar-base:bookworm}"
sidecar_image="${SIDECAR_IMAGE:-localhost/sidecar:dev}"
mariadb_image="${MARIADB_IMAGE:-localhost/mariadb:local}"
postgres_image="${POSTGRES_IMAGE:-localhost/postgres:15}"
postgres18_image="${POSTGRES18_IMAGE:-localhost/postgres:18-layout}"
suite=bookworm
rootfs=""

log() { printf 'build-images: %s\n' "$*" >&2; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        log "must run as root (debootstrap, rootful podman)"
        exit 1
    fi
}

# Podman here has no working crun and the default unlimited ulimits break mariadbd and runc:
# both are set in the run's own containers.conf, never in the host's (/etc/containers/).
: "${CONTAINERS_CONF:=$here/containers.conf}"
export CONTAINERS_CONF

# The Debian mirror this machine's apt already uses, unless DEBIAN_MIRROR says otherwise.
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    local uri
    uri="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -Eo '(https?://[^ ]+/debian)/?( |$)' | head -n1 | tr -d ' ' || true)"
    if [ -z "$uri" ]; then
        log "cannot find a Debian mirror in apt's sources; set DEBIAN_MIRROR"
        exit 1
    fi
    echo "${uri%/}"
}

build_base() {
    if podman image exists "$base_image"; then
        log "$base_image exists, reusing it"
        return
    fi
    local mirror
    mirror="$(debian_mirror)"
    rootfs="$(mktemp -d /var/tmp/sidecar-rootfs.XXXXXX)"
    trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
    log "debootstrap $suite from $mirror into $rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
        tail -n 30 "$rootfs.log" >&2
        exit 1
    }
    rm -f "$rootfs.log"
    cat >"$rootfs/etc/apt/sources.list" <<SRC
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror}-security $suite-security main
SRC
    # The image trusts what this machine trusts: local CAs (a TLS-inspecting proxy's, say)
    # must reach pip inside builds too. Debian's pip honours the system bundle via pip.conf.
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
        chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
    fi
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"
    # Keep the image small: no package lists, caches, docs or man pages.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-slim" <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
CFG
    cat >"$rootfs/etc/apt/apt.conf.d/01-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
CFG
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    log "importing $base_image"
    tar --numeric-owner -C "$rootfs" -c . \
        | podman import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
            - "$base_image" >/dev/null 2>&1
    rm -rf "$rootfs"
}

build_sidecar() {
    log "building $sidecar_image"
    local revision
    revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
    podman build --format docker --build-arg "BASE_IMAGE=$base_image" \
        --build-arg "REVISION=$revision" --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        -t "$sidecar_image" -f "$repo/Containerfile" "$repo"
}

# The database stand-ins are built with tests/e2e as their context, for their shared
# entrypoint_lib.sh.
build_mariadb() {
    log "building $mariadb_image"
    podman build --format docker --build-arg "BASE_IMAGE=$base_image" \
        -t "$mariadb_image" -f "$here/mariadb/Containerfile" "$here"
}

# Two layouts of one server: the second build reuses the first's package layer.
build_postgres() {
    log "building $postgres_image and $postgres18_image"
    podman build --format docker --build-arg "BASE_IMAGE=$base_image" \
        -t "$postgres_image" -f "$here/postgres/Containerfile" "$here"
    podman build --format docker --build-arg "BASE_IMAGE=$base_image" \
        --build-arg PGDATA=/var/lib/postgresql/18/docker --build-arg VOLUME_AT=/var/lib/postgresql \
        -t "$postgres18_image" -f "$here/postgres/Containerfile" "$here"
}

install_compose() {
    [ -x "$repo/.venv/bin/python" ] || python3 -m venv "$repo/.venv"
    if ! "$repo/.venv/bin/podman-compose" --version >/dev/null 2>&1; then
        log "installing podman-compose into .venv"
        "$repo/.venv/bin/pip" install -q --disable-pip-version-check podman-compose
    fi
}

main() {
    need_root
    install_compose
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(base sidecar mariadb postgres)
    for t in "${targets[@]}"; do
        case "$t" in
            base) build_base ;;
            sidecar) build_base; build_sidecar ;;
            mariadb) build_base; build_mariadb ;;
            postgres) build_base; build_postgres ;;
            *) log "unknown target $t (base, sidecar, mariadb, postgres)"; exit 2 ;;
        esac
    done
}

main "$@"
