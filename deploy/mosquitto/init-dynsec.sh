#!/bin/sh
# Creates the dynamic-security file for the project's Mosquitto (deploy/mosquitto/mosquitto.conf): an admin for
# operators, and the platform's service account, which the gateway replicas and the provisioning app share.
#
#   service account roles
#     linan-gateway       subscribe devices/+/# directly or through any shared subscription ($share/<group>/...),
#                         receive devices/+/#; take the broker's reports of refused device packets
#                         (linan/broker/acl-denied, through a shared subscription, from the linan_device_acl plugin)
#     linan-provisioning  publish devices/+/commands/#, administer the plugin through $CONTROL/dynamic-security/#
#                         (provisioning creates each device's account and role there)
#
# Runs where Mosquitto is installed (the eclipse-mosquitto image as an init step against the /mosquitto/data
# volume, or Debian). It starts a private Mosquitto on a unix socket in a temporary folder, sends the commands
# through the plugin's control topic (passwords are hashed by the plugin itself), and installs the file.
# An existing file is left alone, so it is safe to run before every start.
#
# Environment:
#   MQTT_ADMIN_PASSWORD, MQTT_SERVICE_PASSWORD   required
#   MQTT_ADMIN_USERNAME    default admin
#   MQTT_SERVICE_USERNAME  default linan   (the user in the apps' MQTT_URL, mqtt://linan:<password>@mosquitto:1883)
#   DYNSEC_FILE            default /mosquitto/data/dynamic-security.json
#   MOSQUITTO_DYNSEC_PLUGIN  default: the first of the image's and Debian's paths that exists
set -eu

DYNSEC_FILE="${DYNSEC_FILE:-/mosquitto/data/dynamic-security.json}"
ADMIN_USER="${MQTT_ADMIN_USERNAME:-admin}"
SERVICE_USER="${MQTT_SERVICE_USERNAME:-linan}"
: "${MQTT_ADMIN_PASSWORD:?set MQTT_ADMIN_PASSWORD (the dynamic-security admin password)}"
: "${MQTT_SERVICE_PASSWORD:?set MQTT_SERVICE_PASSWORD (the platform service account password, as in MQTT_URL)}"

if [ -s "$DYNSEC_FILE" ]; then
  echo "init-dynsec: $DYNSEC_FILE exists; left as it is"
  exit 0
fi

PLUGIN="${MOSQUITTO_DYNSEC_PLUGIN:-}"
if [ -z "$PLUGIN" ]; then
  for p in /usr/lib/mosquitto_dynamic_security.so /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so \
           /usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so /usr/local/lib/mosquitto_dynamic_security.so; do
    if [ -f "$p" ]; then PLUGIN="$p"; break; fi
  done
fi
if [ -z "$PLUGIN" ] || [ ! -f "$PLUGIN" ]; then
  echo "init-dynsec: mosquitto_dynamic_security.so not found; set MOSQUITTO_DYNSEC_PLUGIN" >&2
  exit 1
fi

# JSON string contents: passwords may hold any printable character, so backslashes and quotes are escaped
json() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
for v in "$ADMIN_USER" "$SERVICE_USER" "$MQTT_ADMIN_PASSWORD" "$MQTT_SERVICE_PASSWORD"; do
  case "$v" in *[[:cntrl:]]*) echo "init-dynsec: user names and passwords may not contain control characters" >&2; exit 1 ;; esac
done

WORK="$(mktemp -d)"
BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mosquitto_ctrl dynsec init "$WORK/dynamic-security.json" "$ADMIN_USER" "$MQTT_ADMIN_PASSWORD" > /dev/null

# a private broker: a unix socket only, no network listener, and no switch to the mosquitto user
cat > "$WORK/init.conf" <<EOF
listener 0 $WORK/init.sock
allow_anonymous false
persistence false
user $(id -un)
plugin $PLUGIN
plugin_opt_config_file $WORK/dynamic-security.json
log_dest file $WORK/mosquitto.log
EOF
mosquitto -c "$WORK/init.conf" 2>> "$WORK/mosquitto.log" &
BROKER_PID=$!

control() {
  mosquitto_rr --unix "$WORK/init.sock" -u "$ADMIN_USER" -P "$MQTT_ADMIN_PASSWORD" -W 5 \
    -t '$CONTROL/dynamic-security/v1' -e '$CONTROL/dynamic-security/v1/response' -m "$1"
}

i=0
until [ -S "$WORK/init.sock" ] && control '{"commands":[{"command":"getDefaultACLAccess"}]}' > /dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then
    echo "init-dynsec: the temporary Mosquitto did not answer:" >&2
    cat "$WORK/mosquitto.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.1 2> /dev/null || sleep 1   # a shell whose sleep takes whole seconds only
done

acl() { printf '{"acltype":"%s","topic":"%s","allow":true}' "$1" "$2"; }
COMMANDS="$(cat <<EOF
{"commands":[
  {"command":"createRole","rolename":"linan-gateway","textname":"Gateway: takes device messages",
   "acls":[$(acl subscribePattern 'devices/+/#'),$(acl subscribePattern '$share/+/devices/+/#'),
           $(acl publishClientReceive 'devices/+/#'),
           $(acl subscribePattern '$share/+/linan/broker/acl-denied'),$(acl publishClientReceive 'linan/broker/acl-denied')]},
  {"command":"createRole","rolename":"linan-provisioning","textname":"Provisioning: device accounts and commands",
   "acls":[$(acl publishClientSend 'devices/+/commands/#'),
           $(acl publishClientSend '$CONTROL/dynamic-security/#'),$(acl subscribePattern '$CONTROL/dynamic-security/#'),
           $(acl publishClientReceive '$CONTROL/dynamic-security/#')]},
  {"command":"createClient","username":"$(json "$SERVICE_USER")","password":"$(json "$MQTT_SERVICE_PASSWORD")",
   "textname":"Linan platform service account",
   "roles":[{"rolename":"linan-gateway"},{"rolename":"linan-provisioning"}]}
]}
EOF
)"
RESPONSE="$(control "$COMMANDS")"
case "$RESPONSE" in
  *'"error"'*) echo "init-dynsec: Mosquitto refused a command: $RESPONSE" >&2; exit 1 ;;
  *'"responses"'*) ;;
  *) echo "init-dynsec: no answer from the temporary Mosquitto: $RESPONSE" >&2; exit 1 ;;
esac

# stop the broker so the plugin's last save is complete before the file is copied
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=""

mkdir -p "$(dirname "$DYNSEC_FILE")"
cp "$WORK/dynamic-security.json" "$DYNSEC_FILE.tmp"
chmod 600 "$DYNSEC_FILE.tmp"
# Mosquitto started as root drops to the mosquitto user, which must be able to read and rewrite the file
if [ "$(id -u)" = 0 ] && id mosquitto > /dev/null 2>&1; then
  chown mosquitto:mosquitto "$DYNSEC_FILE.tmp"
  chown mosquitto:mosquitto "$(dirname "$DYNSEC_FILE")" 2>/dev/null || true
fi
mv "$DYNSEC_FILE.tmp" "$DYNSEC_FILE"
echo "init-dynsec: created $DYNSEC_FILE (admin \"$ADMIN_USER\", service account \"$SERVICE_USER\")"
