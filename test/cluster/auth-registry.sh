#!/bin/bash
# auth-registry.sh - the test cluster's second registry, as a site's private
# registry is set up: TLS with a certificate from the cluster's own CA
# (trusted through /etc/containers/certs.d/HOST:PORT/ca.crt, nothing
# insecure), htpasswd authentication for one account, and the debian test
# image pushed to it. Idempotent: the CA, the password and the image are
# made once. Run by up.sh after images.sh (it copies from the plain
# registry); stopped by down.sh. Root only.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$HERE/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"

CERTS_D=/etc/containers/certs.d/$AUTH_REGISTRY
install -d -m 0700 "$AUTH_DIR" "$AUTH_DIR/storage"
install -d -m 0755 "$CERTS_D"
mkdir -p "$STATE_DIR" "$LOG_DIR"

# The password: random, made once, kept for env.sh (the tests log in with it).
if [[ ! -s $AUTH_DIR/password ]]; then
	(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$AUTH_DIR/password.tmp")
	mv -f "$AUTH_DIR/password.tmp" "$AUTH_DIR/password"
fi
password=$(<"$AUTH_DIR/password")
if [[ ! -s $AUTH_DIR/htpasswd ]] || ! htpasswd -vb "$AUTH_DIR/htpasswd" "$AUTH_USER" "$password" >/dev/null 2>&1; then
	htpasswd -Bbc "$AUTH_DIR/htpasswd.tmp" "$AUTH_USER" "$password" 2>/dev/null
	mv -f "$AUTH_DIR/htpasswd.tmp" "$AUTH_DIR/htpasswd"
fi

# The CA and the registry's certificate (IP SAN: clients connect to the address).
if [[ ! -s $AUTH_DIR/server.crt ]]; then
	log "making the test CA and the certificate of $AUTH_REGISTRY"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=carina test CA" \
		-keyout "$AUTH_DIR/ca.key" -out "$AUTH_DIR/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=${AUTH_REGISTRY%:*}" \
		-keyout "$AUTH_DIR/server.key" -out "$AUTH_DIR/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "${AUTH_REGISTRY%:*}" >"$AUTH_DIR/ext.cnf"
	openssl x509 -req -in "$AUTH_DIR/server.csr" -CA "$AUTH_DIR/ca.crt" -CAkey "$AUTH_DIR/ca.key" \
		-CAcreateserial -days 3650 -extfile "$AUTH_DIR/ext.cnf" -out "$AUTH_DIR/server.crt.tmp" 2>/dev/null
	mv -f "$AUTH_DIR/server.crt.tmp" "$AUTH_DIR/server.crt"
fi
install -m 0644 "$AUTH_DIR/ca.crt" "$CERTS_D/ca.crt"

conf=$AUTH_DIR/registry.yml
write_file "$conf" <<EOC && changed=1 || changed=0
# Written by carina test/cluster/auth-registry.sh
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $AUTH_DIR/storage
http:
  addr: $AUTH_REGISTRY
  tls:
    certificate: $AUTH_DIR/server.crt
    key: $AUTH_DIR/server.key
auth:
  htpasswd:
    realm: carina-test
    path: $AUTH_DIR/htpasswd
EOC
pidfile=$STATE_DIR/auth-registry.pid
if pid=$(pid_of "$pidfile" docker-registry) && ((changed)); then
	stop_pidfile "$pidfile" docker-registry 5
fi
up() { curl -s -m 2 -o /dev/null --cacert "$AUTH_DIR/ca.crt" "https://$AUTH_REGISTRY/v2/"; }
if pid=$(pid_of "$pidfile" docker-registry); then
	log "authenticated registry running (pid $pid)"
else
	up && die "something else already listens on $AUTH_REGISTRY"
	log "starting the authenticated registry on $AUTH_REGISTRY (TLS, htpasswd)"
	setsid /usr/bin/docker-registry serve "$conf" \
		>>"$LOG_DIR/auth-registry.log" 2>>"$LOG_DIR/auth-registry-daemon.log" </dev/null &
	echo $! >"$pidfile"
fi
for ((i = 0; i < 100; i++)); do
	up && break
	sleep 0.1
done
if ! up; then
	tail -n 20 "$LOG_DIR/auth-registry-daemon.log" >&2 || true
	die "the authenticated registry does not answer on $AUTH_REGISTRY"
fi
# Unauthenticated requests must be refused, or the tests prove nothing.
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --cacert "$AUTH_DIR/ca.crt" "https://$AUTH_REGISTRY/v2/")
[[ $code == 401 ]] || die "the authenticated registry answers $code without credentials, want 401"

# The image: the plain registry's debian:12, copied once.
creds=$AUTH_USER:$password
if ! skopeo inspect --raw --creds "$creds" --cert-dir "$CERTS_D" "docker://$AUTH_IMAGE" >/dev/null 2>&1; then
	log "pushing $AUTH_IMAGE"
	skopeo copy -q --src-tls-verify=false --dest-creds "$creds" --dest-cert-dir "$CERTS_D" \
		"docker://$CARINA_TEST_REGISTRY/debian:12" "docker://$AUTH_IMAGE" >/dev/null
fi
log "authenticated registry ok: $AUTH_IMAGE"
