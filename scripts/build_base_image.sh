#!/bin/sh
# Build a local base image aml-magic/base:<suite> without any registry:
# debootstrap a minimal Debian <suite> with Python, trim it, and `docker import` it.
#
# No registry is reachable on the development machines, so the test suite (and anyone without
# Docker Hub) builds its base image here. The trimmed root filesystem is cached as a tarball keyed
# by suite and this script's content hash, so debootstrap runs once per machine and suite; the
# import honours DOCKER_HOST like every other docker client. bookworm (Python 3.11) is what the
# targets use by default; the suite also builds bullseye (Python 3.9) to prove the agent runs on
# the oldest Python it supports with an interpreter it obtains itself.
#
# Usage: scripts/build_base_image.sh [TAG]        (default tag: aml-magic/base:bookworm)
#        The tag's version part names the Debian suite (aml-magic/base:bullseye -> bullseye).
# Environment:
#   AML_MAGIC_SUITE          the Debian suite, when the tag does not name it
#   AML_MAGIC_CACHE_DIR      where the rootfs tarball is cached (default /var/cache/aml-magic)
#   AML_MAGIC_DEBIAN_MIRROR  Debian mirror (default: the first Debian URI apt uses, else
#                            http://deb.debian.org/debian)
#   AML_MAGIC_TAR_ONLY=1     only make the cached tarball and print its path (no docker needed)
set -eu

TAG="${1:-aml-magic/base:bookworm}"
SUITE="${AML_MAGIC_SUITE:-${TAG##*:}}"
PACKAGES=python3,python3-venv,ca-certificates
case "$SUITE" in
    # bullseye also carries Python 2.7: the azureml.logging stand-in runs under a run's own
    # Python, as old as Workbench-era projects used.
    bullseye) PACKAGES="$PACKAGES,python2.7" ;;
    bookworm|trixie) ;;
    *) echo "build_base_image: unknown Debian suite '$SUITE' (from tag $TAG); set AML_MAGIC_SUITE" >&2
       exit 1 ;;
esac
CACHE_DIR="${AML_MAGIC_CACHE_DIR:-/var/cache/aml-magic}"

die() { echo "build_base_image: $*" >&2; exit 1; }

find_mirror() {
    if [ -n "${AML_MAGIC_DEBIAN_MIRROR:-}" ]; then
        echo "$AML_MAGIC_DEBIAN_MIRROR"; return
    fi
    # deb822 sources first ("URIs: ..."), then one-line sources ("deb URI suite ...").
    found=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
                | awk '$1 == "URIs:" {print $2}';
              cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i !~ /^\[/) {print $i; break}}') \
            | grep -E '/debian/?$' | head -n 1 || true)
    echo "${found:-http://deb.debian.org/debian}"
}

SCRIPT_HASH=$(sha256sum "$0" | cut -c1-16)
TARBALL="$CACHE_DIR/base-$SUITE-$SCRIPT_HASH.tar"

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root to build $TARBALL"
    MIRROR=$(find_mirror)
    mkdir -p "$CACHE_DIR"
    WORK=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT INT TERM
    ROOT="$WORK/rootfs"
    echo "build_base_image: debootstrap $SUITE from $MIRROR (once per machine)" >&2
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >&2 \
        || die "debootstrap failed; see $ROOT/debootstrap/debootstrap.log"
    # Trim what a run environment never needs: documentation, locales, apt caches and lists.
    rm -rf "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
           "$ROOT"/usr/share/locale/* "$ROOT"/usr/share/lintian "$ROOT"/var/lib/apt/lists/* \
           "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
           "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/log/* "$ROOT"/debootstrap
    find "$ROOT"/usr/lib/python3* -name '__pycache__' -prune -exec rm -rf {} + 2>/dev/null || true
    # The engine provides /dev, /proc and /sys; device nodes in an image only get in the way.
    tar --numeric-owner -C "$ROOT" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$TARBALL.tmp.$$" .
    mv "$TARBALL.tmp.$$" "$TARBALL"
    rm -rf "$WORK"
    trap - EXIT INT TERM
fi

if [ "${AML_MAGIC_TAR_ONLY:-0}" = 1 ]; then
    echo "$TARBALL"
    exit 0
fi

command -v docker >/dev/null 2>&1 || die "the docker command line is not installed"
docker import \
    --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.aml-magic.base=$SUITE org.aml-magic.rootfs-hash=$SCRIPT_HASH" \
    "$TARBALL" "$TAG" >/dev/null
echo "$TAG"
