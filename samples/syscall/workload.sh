#!/bin/sh
# What the node recording (node-recording.jsonl) saw: a few things an intruder does after
# landing on a node, made harmless — everything stays in a scratch folder, nothing leaves
# the machine, no file outside the scratch folder is changed.
# Run by `lanner demo` under the live sensor when it runs as root.
set -u
scratch=$(mktemp -d /tmp/lanner-demo.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

cat /etc/shadow >/dev/null                         # credential access: read the password hashes
ln -s /etc/shadow shadow-link                      # a symlink to a sensitive file
mkdir -p home/.ssh && echo "not a key" >home/.ssh/id_rsa
find "$scratch" -name id_rsa >/dev/null            # looking for private keys
printf '[default]\naws_secret_access_key = x\n' >credentials
grep -r aws_secret_access_key "$scratch" >/dev/null  # looking for cloud credentials
head -c 4096 /dev/zero >evidence && shred -u evidence  # wiping data
ls -la >/dev/null                                  # and something benign
