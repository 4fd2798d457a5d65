import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BROKER_REFUSALS_TOPIC, DEVICE_PUBLISH_CHANNELS } from '@linan/devices';
import { REPO } from './served-routes';

const read = (root: string, ...p: string[]) => readFileSync(join(root, 'deploy', 'mosquitto', ...p), 'utf8');

export interface MosquittoFiles {
  conf: string;
  dockerfile: string;
  init: string;
}

/** deploy/mosquitto's mosquitto.conf, Dockerfile and init-dynsec.sh as they are. */
export const mosquittoFiles = (root = REPO): MosquittoFiles => ({
  conf: read(root, 'mosquitto.conf'), dockerfile: read(root, 'Dockerfile'), init: read(root, 'init-dynsec.sh'),
});

/** mosquitto.conf's plugins in the order it loads them, each with its plugin_opt_* lines. */
export function confPlugins(conf: string): { path: string; options: Record<string, string> }[] {
  const plugins: { path: string; options: Record<string, string> }[] = [];
  for (const line of conf.split('\n').map((l) => l.trim())) {
    const plugin = /^plugin\s+(\S+)$/.exec(line);
    if (plugin) plugins.push({ path: plugin[1], options: {} });
    const opt = /^plugin_opt_(\w+)\s+(.*)$/.exec(line);
    if (opt && plugins.length) plugins[plugins.length - 1].options[opt[1]] = opt[2].trim();
  }
  return plugins;
}

const isOurPlugin = (p: { path: string }) => p.path.endsWith('/linan_device_acl.so');

/**
 * The broker's own plugin (deploy/mosquitto/plugin): mosquitto.conf loads it before dynamic security, from where the
 * broker's Dockerfile installs it, with the report topic the gateways take and the channels provisioning grants
 * devices; init-dynsec.sh lets the gateways take the reports through a shared subscription.
 */
export function mosquittoPluginProblems(files: Partial<MosquittoFiles> = {}): string[] {
  const { conf, dockerfile, init } = { ...mosquittoFiles(), ...files };
  const problems: string[] = [];
  const plugins = confPlugins(conf);
  const ours = plugins.findIndex(isOurPlugin);
  const dynsec = plugins.findIndex((p) => p.path.endsWith('/mosquitto_dynamic_security.so'));
  if (ours < 0) return ['mosquitto.conf does not load linan_device_acl.so'];
  if (dynsec >= 0 && dynsec < ours) problems.push('mosquitto.conf loads dynamic security before linan_device_acl.so, which then never sees a refusal');
  const plugin = plugins[ours];
  const installed = /^COPY\s+--from=\S+\s+\S+\s+(\S+)$/m.exec(dockerfile)?.[1];
  if (installed !== plugin.path) problems.push(`mosquitto.conf loads ${plugin.path}, deploy/mosquitto/Dockerfile installs ${installed ?? 'nothing'}`);
  if (plugin.options.report_topic !== BROKER_REFUSALS_TOPIC) problems.push(`plugin_opt_report_topic is ${plugin.options.report_topic}, the gateways take ${BROKER_REFUSALS_TOPIC}`);
  const channels = (plugin.options.device_channels ?? '').split(/\s+/).filter(Boolean);
  if (channels.join(' ') !== DEVICE_PUBLISH_CHANNELS.join(' ')) {
    problems.push(`plugin_opt_device_channels is "${channels.join(' ')}", provisioning grants devices "${DEVICE_PUBLISH_CHANNELS.join(' ')}"`);
  }
  for (const [type, topic] of [['subscribePattern', `$share/+/${BROKER_REFUSALS_TOPIC}`], ['publishClientReceive', BROKER_REFUSALS_TOPIC]]) {
    if (!init.includes(`acl ${type} '${topic}'`)) problems.push(`init-dynsec.sh does not grant the gateway role ${type} ${topic}`);
  }
  return problems;
}

/** The folder the broker's image is built from, for the compose and Kubernetes checks. */
export const MOSQUITTO_BUILD_CONTEXT = 'deploy/mosquitto';

/**
 * The accounts init-dynsec.sh creates (its environment in compose or Kubernetes) are `platform_users` of the plugin, so
 * the plugin never takes them for devices, whatever client id they connect with.
 */
export function platformUserProblems(initEnv: Record<string, string | undefined>, where: string, conf = mosquittoFiles().conf): string[] {
  const plugin = confPlugins(conf).find(isOurPlugin);
  const users = (plugin?.options.platform_users ?? '').split(/\s+/).filter(Boolean);
  return [initEnv.MQTT_ADMIN_USERNAME ?? 'admin', initEnv.MQTT_SERVICE_USERNAME ?? 'linan']
    .filter((u) => !users.includes(u))
    .map((u) => `${where}: the account ${u} init-dynsec.sh creates is not in the plugin's platform_users (mosquitto.conf)`);
}

