#!/usr/bin/env bash
# Builds a Debian package of portvisor: the static binary, the systemd unit, an example
# services.json (a conffile), the manual page and the bash and zsh completions, each in its
# standard place. Needs only dpkg-deb (and the Swift toolchain unless --binary is given).
#
#   scripts/package.sh                       static release build, then .build/dist/portvisor_VERSION_ARCH.deb
#   scripts/package.sh --binary PATH         package an existing binary instead of building
#   scripts/package.sh --out DIR             write the .deb to DIR
#   scripts/package.sh --allow-dynamic       accept a binary linked to libraries outside Debian packages
#                                            (the tests package their debug build this way)
#
# The package's dependencies are read from the binary: every shared library it needs must come
# from a Debian package (a Swift runtime library means it was not built --static-swift-stdlib),
# and libc6's version is the newest GLIBC_ symbol version it uses.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="" out=".build/dist" allow_dynamic=false
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --allow-dynamic) allow_dynamic=true; shift ;;
        *) echo "package.sh: unknown argument $1 (see the comment at the top)" >&2; exit 64 ;;
    esac
done
command -v dpkg-deb >/dev/null || { echo "package.sh: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 69; }
if [ -z "$binary" ]; then
    swift build -c release --static-swift-stdlib
    binary=.build/release/portvisor
fi
[ -x "$binary" ] || { echo "package.sh: $binary is not an executable" >&2; exit 66; }

version=$("$binary" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
case "$version" in [0-9]*) ;; *) echo "package.sh: '$binary --version' gave no version" >&2; exit 70 ;; esac

# Dependencies: the package of every library the binary needs.
depends=()
glibc=$(objdump -T "$binary" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1 || true)
while read -r library path; do
    [ -n "$path" ] || continue
    owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) ||
        owner=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1) || owner=""
    if [ -z "$owner" ]; then
        if $allow_dynamic; then continue; fi
        echo "package.sh: $binary needs $library ($path), which no Debian package provides; build with --static-swift-stdlib" >&2
        exit 65
    fi
    if [ "$owner" = libc6 ] && [ -n "$glibc" ]; then owner="libc6 (>= $glibc)"; fi
    case " ${depends[*]-} " in *" $owner "*) ;; *) depends+=("$owner") ;; esac
done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
depends_line=$(IFS=','; echo "${depends[*]-}" | sed 's/,/, /g')

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/portvisor_${version}_${arch}"
mkdir -p "$root/DEBIAN"

install -D -m 0755 "$binary" "$root/usr/bin/portvisor"
if command -v strip >/dev/null; then strip --strip-unneeded "$root/usr/bin/portvisor"; fi

# The unit, with the packaged binary's path; without Sockets= (the example socket units bind
# ports 7 and 13: they are documentation, not defaults).
sed -e 's|/usr/local/bin/portvisor|/usr/bin/portvisor|g' -e '/^Sockets=/d' \
    -e '/^# One socket unit per name/,/^# Sockets= pulls them in/d' \
    contrib/systemd/portvisor.service >"$stage/portvisor.service"
install -D -m 0644 "$stage/portvisor.service" "$root/usr/lib/systemd/system/portvisor.service"
for unit in contrib/systemd/*.socket; do
    install -D -m 0644 "$unit" "$root/usr/share/doc/portvisor/examples/systemd/$(basename "$unit")"
done
install -D -m 0644 contrib/systemd/services.json "$root/etc/portvisor/services.json"
install -D -m 0644 contrib/systemd/services.json "$root/usr/share/doc/portvisor/examples/services.json"
for example in examples/*.json; do
    install -D -m 0644 "$example" "$root/usr/share/doc/portvisor/examples/$(basename "$example")"
done

mkdir -p "$root/usr/share/man/man1"
gzip -9n <docs/portvisor.1 >"$root/usr/share/man/man1/portvisor.1.gz"
chmod 0644 "$root/usr/share/man/man1/portvisor.1.gz"
install -D -m 0644 contrib/completion/portvisor.bash "$root/usr/share/bash-completion/completions/portvisor"
install -D -m 0644 contrib/completion/_portvisor "$root/usr/share/zsh/vendor-completions/_portvisor"
install -D -m 0644 README.md "$root/usr/share/doc/portvisor/README.md"
cat >"$root/usr/share/doc/portvisor/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: portvisor
Comment: Built from the portvisor source tree by scripts/package.sh.

Files: *
Copyright: 2026 The Portvisor authors
License: no license has been chosen yet; all rights reserved by the authors
EOF

printf '/etc/portvisor/services.json\n' >"$root/DEBIAN/conffiles"
size_kib=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
{
    echo "Package: portvisor"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: The Portvisor authors <portvisor@localhost>"
    echo "Installed-Size: $size_kib"
    [ -n "$depends_line" ] && echo "Depends: $depends_line"
    echo "Section: net"
    echo "Priority: optional"
    echo "Description: multi-service TCP and UDP port supervisor"
    echo " Portvisor binds one listener per declared service (the inetd services, your"
    echo " own programs per connection or as a daemon handed the socket, or a proxy),"
    echo " classifies each port into the IANA ranges, restarts failed listeners with"
    echo " backoff, and serves an HTTP status endpoint, a live dashboard and a control"
    echo " socket. Enable it with: systemctl enable --now portvisor"
} >"$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/portvisor_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
