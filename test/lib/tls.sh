# shellcheck shell=bash
# Throwaway certificates for the TLS tests, made with the openssl CLI.  Source it, then:
#
#   tls_make DIR      creates, in DIR (once; later calls reuse it):
#     ca.pem ca.key               the test CA (self-signed, CN "cdcagent test CA")
#     server.pem server.key       signed by it, CN localhost, subjectAltName
#                                 IP:127.0.0.1, DNS:localhost
#     server.p12                  the same key and certificate (with ca.pem) as PKCS#12,
#                                 password $TLS_PASS, for Java (the Kafka broker)
#     client.pem client.key       client certificate signed by the CA, CN $TLS_CLIENT_CN
#                                 (default cdc_user: PostgreSQL's clientcert=verify-full
#                                 compares the CN with the role name)
#     client-enc.key              client.key encrypted (AES-256) with $TLS_PASS
#     wrong-ca.pem wrong-ca.key   an unrelated CA, for the negative tests
#     wrong-client.pem/.key       a client certificate (same CN) signed by the wrong CA
#     otherhost.pem/.key          signed by the right CA for DNS:db.invalid only (a host
#                                 name check must fail against 127.0.0.1)
#
# Keys are RSA 2048 (fast enough; every TLS stack in the tests accepts them), certificates
# valid for 2 days.  Key files are mode 0600; the test gives copies to other OS users.

TLS_PASS=${TLS_PASS:-cdc-test-pass}
TLS_CLIENT_CN=${TLS_CLIENT_CN:-cdc_user}

_tls_err() { echo "tls.sh: $*" >&2; }

# _tls_ossl LOG ARGS...: openssl ARGS with its chatter in LOG; says so on failure.
_tls_ossl() {
    local log=$1
    shift
    if ! openssl "$@" >>"$log" 2>&1; then
        _tls_err "openssl $1 failed; last lines of $log:"
        tail -n 5 "$log" >&2
        return 1
    fi
}

# _tls_ca DIR NAME CN: a self-signed CA in DIR/NAME.pem, DIR/NAME.key.
_tls_ca() {
    local d=$1 name=$2 cn=$3
    _tls_ossl "$d/openssl.log" req -x509 -new -newkey rsa:2048 -nodes -days 2 \
        -subj "/O=cdcagent tests/CN=$cn" -keyout "$d/$name.key" -out "$d/$name.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
}

# _tls_leaf DIR NAME CA CN EXT: a key and a certificate signed by CA (a _tls_ca name), with
# the v3 extension lines EXT.
_tls_leaf() {
    local d=$1 name=$2 ca=$3 cn=$4 ext=$5
    _tls_ossl "$d/openssl.log" req -new -newkey rsa:2048 -nodes -subj "/O=cdcagent tests/CN=$cn" \
        -keyout "$d/$name.key" -out "$d/$name.csr" || return 1
    printf '%s\n' "$ext" >"$d/$name.ext"
    _tls_ossl "$d/openssl.log" x509 -req -in "$d/$name.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" \
        -CAcreateserial -days 2 -sha256 -extfile "$d/$name.ext" -out "$d/$name.pem" || return 1
    rm -f "$d/$name.csr"
}

tls_make() {
    local d=${1:?tls_make DIR}
    command -v openssl >/dev/null || { _tls_err "openssl is not installed"; return 1; }
    [ -f "$d/.complete" ] && return 0
    mkdir -p "$d" || return 1
    : >"$d/openssl.log"
    local srv_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
    local cli_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    _tls_ca "$d" ca "cdcagent test CA" &&
        _tls_ca "$d" wrong-ca "some other CA" &&
        _tls_leaf "$d" server ca localhost "$srv_ext" &&
        _tls_leaf "$d" otherhost ca db.invalid "${srv_ext%%subjectAltName=*}subjectAltName=DNS:db.invalid" &&
        _tls_leaf "$d" client ca "$TLS_CLIENT_CN" "$cli_ext" &&
        _tls_leaf "$d" wrong-client wrong-ca "$TLS_CLIENT_CN" "$cli_ext" || return 1
    _tls_ossl "$d/openssl.log" pkey -in "$d/client.key" -aes256 -passout "pass:$TLS_PASS" \
        -out "$d/client-enc.key" || return 1
    _tls_ossl "$d/openssl.log" pkcs12 -export -in "$d/server.pem" -inkey "$d/server.key" \
        -certfile "$d/ca.pem" -name server -passout "pass:$TLS_PASS" -out "$d/server.p12" || return 1
    chmod 600 "$d"/*.key
    # The chains must verify, or every test built on them would fail for the wrong reason.
    _tls_ossl "$d/openssl.log" verify -CAfile "$d/ca.pem" "$d/server.pem" "$d/client.pem" \
        "$d/otherhost.pem" || return 1
    _tls_ossl "$d/openssl.log" verify -CAfile "$d/wrong-ca.pem" "$d/wrong-client.pem" || return 1
    touch "$d/.complete"
}

# tls_subject FILE: the certificate's subject, e.g. "O = cdcagent tests, CN = localhost".
tls_subject() { openssl x509 -in "$1" -noout -subject -nameopt oneline | sed 's/^subject= *//'; }
