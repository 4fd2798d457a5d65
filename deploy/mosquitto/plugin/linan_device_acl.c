/*
 * 邻安 Lin'an: Mosquitto 2.0 plugin that refuses, counts and reports a device's publish or subscription outside its
 * own topics (CONTRACT: "Anything else is refused by the broker ... and counted"), and reports the connections
 * Mosquitto refused (a wrong or old secret, an unknown or decommissioned device), which Mosquitto only logs.
 *
 * Mosquitto's dynamic-security plugin refuses such a packet too, but silently: 2.0 logs the refusal only at debug
 * level, and an MQTT 3.1.1 device even gets its PUBACK. Mosquitto asks the ACL plugins in the order they are
 * configured and stops at the first that does not defer, so a plugin after dynamic security never learns of a
 * refusal. This one is configured first. For a device it applies the CONTRACT's rule itself (the same topics as the
 * device's role in dynamic security) and refuses what the rule does not allow; everything else it defers, so
 * dynamic security still decides every packet it lets through, and nothing gets through that did not before.
 *
 * A device is a client whose client id equals its user name (dynamic security binds a device's client id to its
 * account) and whose user name is not one of `platform_users`. Refusals are gathered per device and action and
 * reported at most once a second: a warning in Mosquitto's log, and a QoS 1 message on `report_topic` (the count, the
 * first topic and, for a publish, its first 4096 bytes of payload) that the gateways take through their shared
 * subscription, count (linan_gateway_acl_denied_total) and keep on the rejected-events topic. A device that floods
 * refused packets costs one report a second, not one per packet. A refused connection is seen when Mosquitto closes
 * it: its client id is cleared by then and its user name is not; it is reported under that user name (the gateways
 * ask the registry why, for linan_gateway_connect_refused_total{reason}), except for the platform's own accounts. A
 * CONNECT without a user name looks at its close like a TCP check that never sent one, so the plugin notes it when
 * Mosquitto asks the plugins to authenticate it (which a TCP check never reaches) and reports it, if refused, under
 * the client id it claimed.
 *
 * Options (plugin_opt_*, after this plugin's `plugin` line):
 *   report_topic     where reports go (default linan/broker/acl-denied)
 *   device_channels  what a device may publish under devices/<id>/, space separated (default: events heartbeat status)
 *   platform_users   user names never treated as devices, space separated (default: none)
 *
 * Build: deploy/mosquitto/plugin/build.sh <output.so> (needs a C compiler and Mosquitto's headers).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_WORDS 16
#define MAX_PENDING 256
#define MAX_TOPIC_REPORTED 200
/* what the gateway keeps of a refused publish on the rejected-events topic, as it does of any rejected message */
#define MAX_PAYLOAD_REPORTED 4096
#define REPORT_INTERVAL_S 1
/* CONNECTs without a user name between their authentication and their close (a moment, unless Mosquitto let them in) */
#define MAX_ANONYMOUS 64

struct pending {
	char *client;
	const char *action;
	char *topic; /* the first refused topic of the interval */
	unsigned char *payload; /* and its payload (publish), at most MAX_PAYLOAD_REPORTED bytes */
	size_t payloadlen;
	unsigned long count;
	bool overflow; /* the refusals of devices beyond the list, client empty */
};

static mosquitto_plugin_id_t *plugin_id;
static char *report_topic;
static char *channels[MAX_WORDS];
static int channel_count;
static char *platform_users[MAX_WORDS];
static int platform_user_count;
static struct pending pending[MAX_PENDING];
static int pending_count;
/* refusals of devices beyond MAX_PENDING in one interval: reported together, per action */
static unsigned long overflow_publish, overflow_subscribe, overflow_connect;
static time_t last_report;
static struct anonymous {
	const struct mosquitto *client;
	char *id; /* the client id it claimed */
} anonymous[MAX_ANONYMOUS];
static int anonymous_count;

static char *dup_or_die(const char *s)
{
	char *d = strdup(s);
	if(!d) abort();
	return d;
}

/* Splits a space-separated option value into at most MAX_WORDS copies. */
static int split_words(const char *value, char **out)
{
	int n = 0;
	const char *p = value;
	while(*p && n < MAX_WORDS){
		while(*p == ' ') p++;
		if(!*p) break;
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *word = malloc(len + 1);
		if(!word) abort();
		memcpy(word, p, len);
		word[len] = '\0';
		out[n++] = word;
		p += len;
	}
	return n;
}

static void free_words(char **words, int *count)
{
	for(int i = 0; i < *count; i++) free(words[i]);
	*count = 0;
}

static bool is_platform_user(const char *username)
{
	for(int i = 0; i < platform_user_count; i++){
		if(!strcmp(platform_users[i], username)) return true;
	}
	return false;
}

/* "devices/<id>/<rest>" with <id> equal to the device's: returns <rest>, NULL otherwise. */
static const char *own_subtopic(const char *topic, const char *id)
{
	static const char prefix[] = "devices/";
	size_t plen = sizeof(prefix) - 1, idlen = strlen(id);
	if(strncmp(topic, prefix, plen) || strncmp(topic + plen, id, idlen) || topic[plen + idlen] != '/') return NULL;
	return topic + plen + idlen + 1;
}

static bool may_publish(const char *topic, const char *id)
{
	const char *rest = own_subtopic(topic, id);
	if(!rest) return false;
	for(int i = 0; i < channel_count; i++){
		if(!strcmp(rest, channels[i])) return true;
	}
	return false;
}

static bool may_subscribe(const char *topic, const char *id)
{
	const char *rest = own_subtopic(topic, id);
	return rest && !strcmp(rest, "commands");
}

static void note_refusal(const char *client, const char *action, const char *topic, const void *payload, uint32_t payloadlen)
{
	for(int i = 0; i < pending_count; i++){
		if(!strcmp(pending[i].action, action) && !strcmp(pending[i].client, client)){
			pending[i].count++;
			return;
		}
	}
	if(pending_count == MAX_PENDING){
		if(!strcmp(action, "publish")) overflow_publish++;
		else if(!strcmp(action, "subscribe")) overflow_subscribe++;
		else overflow_connect++;
		return;
	}
	pending[pending_count].client = dup_or_die(client);
	pending[pending_count].action = action;
	pending[pending_count].topic = dup_or_die(topic);
	size_t kept = payload ? (payloadlen < MAX_PAYLOAD_REPORTED ? payloadlen : MAX_PAYLOAD_REPORTED) : 0;
	pending[pending_count].payload = NULL;
	pending[pending_count].payloadlen = kept;
	if(kept){
		pending[pending_count].payload = malloc(kept);
		if(!pending[pending_count].payload) abort();
		memcpy(pending[pending_count].payload, payload, kept);
	}
	pending[pending_count].count = 1;
	pending[pending_count].overflow = false;
	pending_count++;
}

/* Appends s to buf as text for a JSON string or a log line: at most max bytes of s, cut at a UTF-8 character boundary,
 * with quotes and backslashes escaped and control characters as \u00XX. buf holds cap bytes; returns the new length,
 * never past cap - 1. */
static size_t append_text(char *buf, size_t len, size_t cap, const char *s, size_t max)
{
	size_t n = strlen(s);
	if(n > max){
		n = max;
		while(n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
	}
	for(size_t i = 0; i < n && len + 7 < cap; i++){
		unsigned char c = (unsigned char)s[i];
		if(c == '"' || c == '\\'){
			buf[len++] = '\\';
			buf[len++] = (char)c;
		}else if(c < 0x20 || c == 0x7F){
			len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
		}else{
			buf[len++] = (char)c;
		}
	}
	buf[len] = '\0';
	return len;
}

/* Appends len bytes of data as base64, never past cap - 1. */
static size_t append_base64(char *buf, size_t len, size_t cap, const unsigned char *data, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for(size_t i = 0; i < n && len + 5 < cap; i += 3){
		uint32_t v = (uint32_t)data[i] << 16;
		if(i + 1 < n) v |= (uint32_t)data[i + 1] << 8;
		if(i + 2 < n) v |= data[i + 2];
		buf[len++] = alphabet[(v >> 18) & 63];
		buf[len++] = alphabet[(v >> 12) & 63];
		buf[len++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		buf[len++] = i + 2 < n ? alphabet[v & 63] : '=';
	}
	buf[len] = '\0';
	return len;
}

/* Appends a literal, never past cap - 1. */
static size_t append_raw(char *buf, size_t len, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if(len + n >= cap) n = cap - len - 1;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
	return len + n;
}

static void send_report(const struct pending *p, bool publish)
{
	const char *client = p->client, *action = p->action;
	/* the longest report: 128 bytes of client id and MAX_TOPIC_REPORTED of topic, each byte escaped to 6, and the
	 * payload in base64 */
	static char payload[(MAX_PAYLOAD_REPORTED / 3 + 1) * 4 + 4096];
	char client_text[128 * 6 + 8], topic_text[MAX_TOPIC_REPORTED * 6 + 8], number[32];
	const char *topic = p->topic;
	unsigned long count = p->count;
	append_text(client_text, 0, sizeof(client_text), client, 128);
	append_text(topic_text, 0, sizeof(topic_text), topic, MAX_TOPIC_REPORTED);
	snprintf(number, sizeof(number), "%lu", count);
	size_t len = 0;
	len = append_raw(payload, len, sizeof(payload), "{\"clientId\":\"");
	len = append_raw(payload, len, sizeof(payload), client_text);
	len = append_raw(payload, len, sizeof(payload), "\",\"action\":\"");
	len = append_raw(payload, len, sizeof(payload), action);
	len = append_raw(payload, len, sizeof(payload), "\",\"count\":");
	len = append_raw(payload, len, sizeof(payload), number);
	len = append_raw(payload, len, sizeof(payload), ",\"topic\":\"");
	len = append_raw(payload, len, sizeof(payload), topic_text);
	if(p->payload){
		len = append_raw(payload, len, sizeof(payload), "\",\"payloadBase64\":\"");
		len = append_base64(payload, len, sizeof(payload), p->payload, p->payloadlen);
	}
	len = append_raw(payload, len, sizeof(payload), p->overflow ? "\",\"overflow\":true}" : "\"}");
	const char *who = p->overflow ? "(more devices)" : client_text;
	if(!strcmp(action, "connect")){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "linan: refused %s connection(s) of device %s (credentials, client id or account)", number, who);
	}else{
		mosquitto_log_printf(MOSQ_LOG_WARNING, "linan: refused %s %s packet(s) of device %s outside its own topics (first: %s)",
				number, action, who, topic_text);
	}
	if(publish && mosquitto_broker_publish_copy(NULL, report_topic, (int)len, payload, 1, false, NULL) != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, "linan: could not publish the refusal report on %s", report_topic);
	}
}

/* Reports and forgets what was gathered; at shutdown it is only logged (the broker is no longer routing). */
static void report_pending(bool publish)
{
	for(int i = 0; i < pending_count; i++){
		send_report(&pending[i], publish);
		free(pending[i].client);
		free(pending[i].topic);
		free(pending[i].payload);
	}
	pending_count = 0;
	const char *actions[] = { "publish", "subscribe", "connect" };
	unsigned long *counts[] = { &overflow_publish, &overflow_subscribe, &overflow_connect };
	for(int i = 0; i < 3; i++){
		if(!*counts[i]) continue;
		struct pending others = { .client = "", .action = actions[i], .topic = "", .count = *counts[i], .overflow = true };
		send_report(&others, publish);
		*counts[i] = 0;
	}
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	(void)event;
	(void)userdata;
	if(!ed->client || !ed->topic || (ed->access != MOSQ_ACL_WRITE && ed->access != MOSQ_ACL_SUBSCRIBE)) return MOSQ_ERR_PLUGIN_DEFER;
	const char *username = mosquitto_client_username(ed->client);
	const char *id = mosquitto_client_id(ed->client);
	if(!username || !id || strcmp(username, id) || is_platform_user(username)) return MOSQ_ERR_PLUGIN_DEFER;
	bool write = ed->access == MOSQ_ACL_WRITE;
	if(write ? may_publish(ed->topic, id) : may_subscribe(ed->topic, id)) return MOSQ_ERR_PLUGIN_DEFER;
	note_refusal(id, write ? "publish" : "subscribe", ed->topic, write ? ed->payload : NULL, write ? ed->payloadlen : 0);
	return MOSQ_ERR_ACL_DENIED;
}

/* The claimed client id of a CONNECT without a user name noted by on_basic_auth, taken off the list (NULL if none). */
static char *take_anonymous(const struct mosquitto *client)
{
	for(int i = 0; i < anonymous_count; i++){
		if(anonymous[i].client != client) continue;
		char *id = anonymous[i].id;
		anonymous[i] = anonymous[--anonymous_count];
		return id;
	}
	return NULL;
}

/*
 * A CONNECT without a user name: noted with the client id it claimed, to be reported at its close if Mosquitto refused
 * it (allow_anonymous false). The decision is left to the plugins after this one and to Mosquitto. Mosquitto refuses a
 * CONNECT every plugin defers; with dynamic security after this one (the project's config) that changes nothing, as
 * dynamic security decides every CONNECT with a user name.
 */
static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	(void)event;
	(void)userdata;
	if(ed->username || !ed->client) return MOSQ_ERR_PLUGIN_DEFER;
	free(take_anonymous(ed->client));
	if(anonymous_count < MAX_ANONYMOUS){
		const char *id = mosquitto_client_id(ed->client);
		anonymous[anonymous_count].client = ed->client;
		anonymous[anonymous_count].id = dup_or_die(id ? id : "");
		anonymous_count++;
	}else{
		mosquitto_log_printf(MOSQ_LOG_WARNING, "linan: too many connections without a user name at once; one is not reported");
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

/*
 * A connection Mosquitto refused (wrong secret, unknown or disabled account, a client id the account is not bound to,
 * no user name): it is closed with its client id already cleared, and its user name still there if it sent one. The
 * platform's own accounts are left to Mosquitto's log. One without a user name is reported under the client id it
 * claimed when on_basic_auth saw its CONNECT; else it is a connection closed before its CONNECT (a load balancer's or
 * a probe's TCP check), not a refusal.
 */
static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	(void)event;
	(void)userdata;
	if(!ed->client) return MOSQ_ERR_SUCCESS;
	char *claimed = take_anonymous(ed->client);
	if(mosquitto_client_id(ed->client)){
		free(claimed);
		return MOSQ_ERR_SUCCESS;
	}
	const char *username = mosquitto_client_username(ed->client);
	if(!username){
		if(claimed) note_refusal(claimed, "connect", "", NULL, 0);
		free(claimed);
		return MOSQ_ERR_SUCCESS;
	}
	free(claimed);
	if(is_platform_user(username)){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "linan: refused a connection of the platform account %s", username);
		return MOSQ_ERR_SUCCESS;
	}
	note_refusal(username, "connect", "", NULL, 0);
	return MOSQ_ERR_SUCCESS;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_tick *ed = event_data;
	(void)event;
	(void)userdata;
	time_t now = time(NULL);
	if((pending_count || overflow_publish || overflow_subscribe || overflow_connect) && now - last_report >= REPORT_INTERVAL_S){
		report_pending(true);
		last_report = now;
	}
	/* ask to be called again within the interval, so a refusal is reported within about a second */
	if(ed->next_s == 0 || ed->next_s > now + REPORT_INTERVAL_S){
		ed->next_s = now + REPORT_INTERVAL_S;
		ed->next_ns = 0;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	plugin_id = identifier;
	const char *topic = "linan/broker/acl-denied";
	const char *device_channels = "events heartbeat status";
	const char *platform = "";
	for(int i = 0; i < option_count; i++){
		if(!strcmp(options[i].key, "report_topic")) topic = options[i].value;
		else if(!strcmp(options[i].key, "device_channels")) device_channels = options[i].value;
		else if(!strcmp(options[i].key, "platform_users")) platform = options[i].value;
		else{
			mosquitto_log_printf(MOSQ_LOG_ERR, "linan_device_acl: unknown option plugin_opt_%s", options[i].key);
			return MOSQ_ERR_INVAL;
		}
	}
	if(!*topic || strchr(topic, '+') || strchr(topic, '#') || topic[0] == '$'){
		mosquitto_log_printf(MOSQ_LOG_ERR, "linan_device_acl: plugin_opt_report_topic must be a plain topic, not %s", topic);
		return MOSQ_ERR_INVAL;
	}
	report_topic = dup_or_die(topic);
	channel_count = split_words(device_channels, channels);
	platform_user_count = split_words(platform, platform_users);
	if(channel_count == 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "linan_device_acl: plugin_opt_device_channels names no channel");
		return MOSQ_ERR_INVAL;
	}
	int rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	if(rc == MOSQ_ERR_SUCCESS) rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL);
	if(rc == MOSQ_ERR_SUCCESS) rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_TICK, on_tick, NULL, NULL);
	if(rc == MOSQ_ERR_SUCCESS) rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	if(rc != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, "linan_device_acl: could not register its callbacks (%d)", rc);
		return rc;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "linan_device_acl: devices limited to devices/<id>/{%s}, refusals reported on %s",
			device_channels, report_topic);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	if(pending_count || overflow_publish || overflow_subscribe || overflow_connect) report_pending(false);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_TICK, on_tick, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	while(anonymous_count) free(anonymous[--anonymous_count].id);
	free(report_topic);
	report_topic = NULL;
	free_words(channels, &channel_count);
	free_words(platform_users, &platform_user_count);
	return MOSQ_ERR_SUCCESS;
}
