#!/usr/bin/env bash
# make_pki.sh DIR: a throw-away PKI for e2e.tls_auth, made with openssl at test time
# (nothing of it is committed). Writes into DIR (created, mode 700):
#
#   ca.pem / ca.key              the test CA ("docshift test CA")
#   server.pem / server.key      server certificate by ca for 127.0.0.1 and localhost
#   server-expired.pem / .key    the same names, by ca, valid 2001-01-01..2001-01-02 (expired)
#   server-othername.pem / .key  by ca, valid, but only for db.example.invalid (hostname mismatch)
#   client.pem                   client certificate + unencrypted key (CN=docshift-client), by ca
#   client-enc.pem               the same client, key encrypted (AES-256) with password
#                                in client-enc.pass (tlsCertificateKeyFilePassword)
#   other-ca.pem / other-ca.key  a second CA, unrelated to ca (the "wrong CA")
#   bundle.pem                   other-ca + ca: a multi-CA bundle like Amazon's global-bundle.pem
#
# The expired certificate is made with `openssl ca` and explicit -startdate/-enddate,
# which OpenSSL 3 accepts in the past; no faketime needed.
set -euo pipefail
DIR=$1
mkdir -p "$DIR"
chmod 700 "$DIR"
cd "$DIR"
exec 3>"$DIR/openssl.log"

ossl() { openssl "$@" 2>&3 >&3; }

make_ca() {  # NAME CN
  ossl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 30 \
    -subj "/O=docshift tests/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
make_ca ca "docshift test CA"
make_ca other-ca "unrelated test CA"

cat >server.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
cat >client.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF

# A valid server certificate.
ossl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/O=docshift tests/CN=localhost"
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile server.ext -out server.pem

# A valid one for another name only.
ossl req -newkey rsa:2048 -nodes -keyout server-othername.key -out server-othername.csr \
  -subj "/O=docshift tests/CN=db.example.invalid"
ossl x509 -req -in server-othername.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile <(sed 's/^subjectAltName=.*/subjectAltName=DNS:db.example.invalid/' server.ext) \
  -out server-othername.pem

# An expired one: `openssl ca` takes explicit dates.
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca.cnf <<EOF
[ca]
default_ca = test
[test]
database = $DIR/ca-db/index.txt
serial = $DIR/ca-db/serial
new_certs_dir = $DIR/ca-db
certificate = $DIR/ca.pem
private_key = $DIR/ca.key
default_md = sha256
policy = any
copy_extensions = none
[any]
organizationName = optional
commonName = supplied
EOF
ossl req -newkey rsa:2048 -nodes -keyout server-expired.key -out server-expired.csr \
  -subj "/O=docshift tests/CN=localhost"
ossl ca -batch -config ca.cnf -in server-expired.csr -out server-expired.pem -notext \
  -startdate 20010101000000Z -enddate 20010102000000Z -extfile server.ext

# Client certificates: plain key, and the same with an encrypted key.
ossl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/O=docshift tests/CN=docshift-client"
ossl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile client.ext -out client.crt
cat client.crt client.key >client.pem
head -c 24 /dev/urandom | base64 | tr -d '/+=' >client-enc.pass
ossl pkey -in client.key -aes256 -passout "file:client-enc.pass" -out client-enc.key
cat client.crt client-enc.key >client-enc.pem

cat other-ca.pem ca.pem >bundle.pem
chmod 600 ./*.key ./*.pem client-enc.pass
rm -f ./*.csr
exec 3>&-
