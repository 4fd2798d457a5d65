#!/bin/sh
# Builds the linan_device_acl Mosquitto plugin: build.sh <output.so>
# Needs a C compiler and Mosquitto's headers (Debian: gcc mosquitto-dev libmosquitto-dev;
# Alpine: build-base mosquitto-dev).
set -eu
OUT="${1:?usage: build.sh <output.so>}"
HERE="$(cd "$(dirname "$0")" && pwd)"
CC="${CC:-cc}"
if ! command -v "$CC" > /dev/null 2>&1; then
  echo "build.sh: no C compiler ($CC); install gcc (Debian) or build-base (Alpine)" >&2
  exit 1
fi
if ! printf '#include <mosquitto.h>\n#include <mosquitto_broker.h>\n#include <mosquitto_plugin.h>\n' | "$CC" -E -x c - > /dev/null 2>&1; then
  echo "build.sh: Mosquitto's headers are missing; install mosquitto-dev and libmosquitto-dev (Debian) or mosquitto-dev (Alpine)" >&2
  exit 1
fi
TMP="$OUT.tmp.$$"
"$CC" -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -fPIC -shared -o "$TMP" "$HERE/linan_device_acl.c"
mv -f "$TMP" "$OUT"
