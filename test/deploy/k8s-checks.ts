import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { AppName } from '@linan/platform';
import type { EdgeRoute } from '@linan/runtime';
import { appEnvProblems, appOfCommand, hostPort, isMarkedExample, isSecretName, urlPassword } from './common';
import { MOSQUITTO_BUILD_CONTEXT, platformUserProblems } from './mosquitto-checks';
import { REPO } from './served-routes';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML, read field by field */
export interface Manifest {
  file: string;
  obj: any;
}

export const K8S_DIR = join(REPO, 'deploy', 'k8s');
const isExampleFile = (f: string) => /\.example\.ya?ml$/.test(f);

/** Every document of every YAML file in deploy/k8s except kustomization.yaml; example files apart. */
export function loadManifests(dir = K8S_DIR): { manifests: Manifest[]; examples: Manifest[]; problems: string[] } {
  const manifests: Manifest[] = [];
  const examples: Manifest[] = [];
  const problems: string[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length) problems.push(`${file}: ${doc.errors[0].message}`);
      const obj = doc.toJS();
      if (obj) (isExampleFile(file) ? examples : manifests).push({ file, obj });
    }
  }
  return { manifests, examples, problems };
}

export interface K8sApp {
  where: string;
  m: Manifest;
  container: any;
  app: AppName;
  env: Record<string, string>;
}

const workloads = (ms: Manifest[]) => ms.filter((m) => ['Deployment', 'StatefulSet'].includes(m.obj.kind));
const byKind = (ms: Manifest[], kind: string, name: string) => ms.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name);
const secretData = (m: Manifest | undefined): Record<string, string> | undefined => m && {
  ...Object.fromEntries(Object.entries(m.obj.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')])),
  ...Object.fromEntries(Object.entries(m.obj.stringData ?? {}).map(([k, v]) => [k, String(v)])),
};
const podLabels = (m: Manifest): Record<string, string> => m.obj.spec?.template?.metadata?.labels ?? {};
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** A container's environment as the pod gets it: ConfigMaps from the manifests, Secrets from the example file. */
function resolveEnv(where: string, m: Manifest, container: any, manifests: Manifest[], examples: Manifest[], problems: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  const secret = (name: string) => secretData(byKind(manifests, 'Secret', name) ?? byKind(examples, 'Secret', name));
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = byKind(manifests, 'ConfigMap', from.configMapRef.name);
      if (!cm) problems.push(`${where}: ConfigMap ${from.configMapRef.name} is not in deploy/k8s`);
      Object.assign(env, cm?.obj.data ?? {});
    }
    if (from.secretRef) {
      const s = secret(from.secretRef.name);
      if (!s) problems.push(`${where}: Secret ${from.secretRef.name} is described nowhere (secrets.example.yaml)`);
      Object.assign(env, s ?? {});
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const v = secret(name)?.[key];
      if (v === undefined) problems.push(`${where}: ${e.name} reads key ${key} of Secret ${name}, described nowhere`);
      else env[e.name] = v;
    } else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const v = byKind(manifests, 'ConfigMap', name)?.obj.data?.[key];
      if (v === undefined) problems.push(`${where}: ${e.name} reads key ${key} of ConfigMap ${name}, which is not there`);
      else env[e.name] = String(v);
    } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') {
      env[e.name] = m.obj.kind === 'StatefulSet' ? `${m.obj.metadata.name}-0` : `${m.obj.metadata.name}-7d9f8c-x2x4q`;
    }
  }
  return env;
}

/** Whether an image reference names this image, under any registry, tag or digest. */
const imageIs = (name: string) => (image: unknown) => new RegExp(`^(?:\\S+/)?${name}(?::[\\w.-]+)?(?:@\\S+)?$`).test(String(image));
/** The apps' image (`linan`), not the broker's. */
const isAppImage = imageIs('linan');
/** The broker's image, built from deploy/mosquitto. */
const isBrokerImage = imageIs('linan-mosquitto');

/** The workloads that run an app, with their environment resolved. */
export function k8sApps(manifests: Manifest[], examples: Manifest[]): { apps: K8sApp[]; problems: string[] } {
  const problems: string[] = [];
  const apps: K8sApp[] = [];
  for (const m of workloads(manifests)) {
    for (const container of m.obj.spec?.template?.spec?.containers ?? []) {
      if (!isAppImage(container.image)) continue;
      const where = `${m.file} ${m.obj.kind}/${m.obj.metadata?.name} container ${container.name}`;
      const r = appOfCommand(where, [...(container.command ?? []), ...(container.args ?? [])]);
      problems.push(...r.problems);
      if (r.app) apps.push({ where, m, container, app: r.app, env: resolveEnv(where, m, container, manifests, examples, problems) });
    }
  }
  if (!apps.length) problems.push('no workload in deploy/k8s runs an app');
  return { apps, problems };
}

/** Each app: valid configuration, port named http = PORT, probes on /health there, resources requested. */
export function k8sAppProblems(apps: K8sApp[]): string[] {
  const problems: string[] = [];
  for (const { where, m, container, app, env } of apps) {
    problems.push(...appEnvProblems(where, app, env));
    const port = Number(env.PORT ?? 3000);
    const http = (container.ports ?? []).find((p: any) => p.name === 'http');
    if (!http || Number(http.containerPort) !== port) problems.push(`${where}: container port "http" is ${http?.containerPort}, PORT is ${port}`);
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
      const get = container[probe]?.httpGet;
      if (!get) {
        if (probe !== 'startupProbe') problems.push(`${where}: no ${probe} on /health`);
        continue;
      }
      if (get.path !== '/health') problems.push(`${where}: ${probe} calls ${get.path}, not /health`);
      if (get.port !== 'http' && Number(get.port) !== port) problems.push(`${where}: ${probe} calls port ${get.port}, the app listens on ${port}`);
    }
    if (!container.resources?.requests?.cpu || !container.resources?.requests?.memory) problems.push(`${where}: no cpu and memory requests`);
    if (app === 'gateway') {
      const replicas = m.obj.spec?.replicas ?? 1;
      const fromPodName = (container.env ?? []).some((e: any) => e.name === 'MQTT_CLIENT_ID' && e.valueFrom?.fieldRef?.fieldPath === 'metadata.name');
      if (replicas > 1 && !(m.obj.kind === 'StatefulSet' && fromPodName)) {
        problems.push(`${where}: ${replicas} gateway replicas need a stable MQTT_CLIENT_ID each (a StatefulSet, MQTT_CLIENT_ID from metadata.name)`);
      }
      if (!env.MQTT_CLIENT_ID) problems.push(`${where}: MQTT_CLIENT_ID unset`);
    }
  }
  for (const key of ['JWT_SECRET', 'DATABASE_URL'] as const) {
    if (new Set(apps.map((a) => a.env[key] ?? '')).size > 1) problems.push(`the apps do not share one ${key}, so a token from one app would not verify in another`);
  }
  return problems;
}

/** The Service that selects a workload's pods and reaches its http port. */
function serviceFor(manifests: Manifest[], w: Manifest): Manifest | undefined {
  return manifests.find((s) => s.obj.kind === 'Service' && selects(s.obj.spec?.selector, podLabels(w))
    && (s.obj.spec?.ports ?? []).some((p: any) => p.targetPort === 'http' || p.name === 'http'));
}

export function k8sServiceProblems(manifests: Manifest[], apps: K8sApp[]): string[] {
  return apps.filter((a) => !serviceFor(manifests, a.m)).map((a) => `${a.where}: no Service selects its pods on port http`);
}

/**
 * Availability of the apps run in several replicas: a PodDisruptionBudget that keeps one running through voluntary
 * evictions (a node drain) yet lets one go at a time, and a spread over nodes so one node's failure leaves one
 * running. A budget that selects no app, several apps, or a single-replica workload it would pin is named too.
 */
export function k8sAvailabilityProblems(manifests: Manifest[], apps: K8sApp[]): string[] {
  const problems: string[] = [];
  const budgets = manifests.filter((m) => m.obj.kind === 'PodDisruptionBudget');
  const where = (b: Manifest) => `${b.file} PodDisruptionBudget/${b.obj.metadata?.name}`;
  for (const b of budgets) {
    const covered = workloads(manifests).filter((w) => selects(b.obj.spec?.selector?.matchLabels, podLabels(w)));
    if (!covered.length) problems.push(`${where(b)}: selects no workload's pods`);
    if (covered.length > 1) problems.push(`${where(b)}: selects the pods of ${covered.map((w) => w.obj.metadata?.name).join(' and ')}`);
    for (const w of covered) {
      const replicas = w.obj.spec?.replicas ?? 1;
      const { minAvailable, maxUnavailable } = b.obj.spec ?? {};
      if (typeof minAvailable !== 'number' && typeof maxUnavailable !== 'number') {
        problems.push(`${where(b)}: give minAvailable or maxUnavailable as a number of pods`);
      } else if ((typeof minAvailable === 'number' && minAvailable >= replicas) || maxUnavailable === 0) {
        problems.push(`${where(b)}: ${w.obj.metadata?.name} runs ${replicas} replica(s) and the budget lets none be evicted, so no node drain could finish`);
      } else if (typeof minAvailable === 'number' && minAvailable < 1) {
        problems.push(`${where(b)}: minAvailable ${minAvailable} lets a drain stop every replica of ${w.obj.metadata?.name}`);
      }
    }
  }
  for (const { where: at, m } of apps) {
    if ((m.obj.spec?.replicas ?? 1) < 2) continue;
    if (!budgets.some((b) => selects(b.obj.spec?.selector?.matchLabels, podLabels(m)))) {
      problems.push(`${at}: no PodDisruptionBudget keeps one of its replicas running through a node drain`);
    }
    const spread = (m.obj.spec?.template?.spec?.topologySpreadConstraints ?? []) as any[];
    if (!spread.some((c) => c.topologyKey === 'kubernetes.io/hostname' && selects(c.labelSelector?.matchLabels, podLabels(m)))) {
      problems.push(`${at}: its replicas are not spread over nodes (topologySpreadConstraints on kubernetes.io/hostname selecting its pods)`);
    }
  }
  return problems;
}

/** The Ingress paths against the route table: same paths and match, each to a Service of the route's app. */
export function k8sIngressProblems(manifests: Manifest[], apps: K8sApp[], routes: readonly EdgeRoute[]): string[] {
  const problems: string[] = [];
  const key = (match: string, path: string) => `${match} ${path}`;
  const wanted = new Map(routes.map((r) => [key(r.match, r.path), r]));
  const seen = new Set<string>();
  for (const ing of manifests.filter((m) => m.obj.kind === 'Ingress')) {
    for (const rule of ing.obj.spec?.rules ?? []) {
      for (const p of rule.http?.paths ?? []) {
        const match = p.pathType === 'Exact' ? 'exact' : p.pathType === 'Prefix' ? 'prefix' : `pathType ${p.pathType}`;
        const k = key(match, p.path);
        const route = wanted.get(k);
        if (!route) {
          problems.push(`${ing.file}: path ${p.path} (${p.pathType}) is not in the edge route table`);
          continue;
        }
        seen.add(k);
        const svcName = p.backend?.service?.name;
        const svc = byKind(manifests, 'Service', svcName);
        const port = p.backend?.service?.port;
        if (!svc) {
          problems.push(`${ing.file}: ${p.path} goes to Service ${svcName}, which is not in deploy/k8s`);
          continue;
        }
        if (!(svc.obj.spec?.ports ?? []).some((sp: any) => (port?.name && sp.name === port.name) || (port?.number && sp.port === port.number))) {
          problems.push(`${ing.file}: ${p.path} uses port ${JSON.stringify(port)}, which Service ${svcName} does not have`);
        }
        const served = apps.filter((a) => selects(svc.obj.spec?.selector, podLabels(a.m))).map((a) => a.app);
        if (!served.length || served.some((a) => a !== route.app)) problems.push(`${ing.file}: ${p.path} reaches ${served.join(', ') || 'no app'}; the route table says ${route.app}`);
      }
    }
  }
  for (const [k, r] of wanted) if (!seen.has(k)) problems.push(`Ingress: no path for route ${r.match} ${r.path} → ${r.app}`);
  return problems;
}

/** Secrets only as Secrets, and those only in *.example.yaml with marked example values. */
export function k8sSecretProblems(manifests: Manifest[], examples: Manifest[]): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    const where = `${m.file} ${m.obj.kind}/${m.obj.metadata?.name}`;
    if (m.obj.kind === 'Secret') problems.push(`${where}: a Secret with values in a deployed manifest (keep it to *.example.yaml)`);
    if (m.obj.kind === 'ConfigMap') {
      for (const [k, v] of Object.entries(m.obj.data ?? {})) {
        if (isSecretName(k)) problems.push(`${where}: ${k} belongs in a Secret`);
        if (urlPassword(String(v)) !== undefined) problems.push(`${where}: ${k} holds a URL with a password`);
      }
    }
    for (const spec of [m.obj.spec?.template?.spec].filter(Boolean)) {
      for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
        for (const e of c.env ?? []) {
          if (e.value === undefined) continue;
          if (isSecretName(e.name) || urlPassword(String(e.value)) !== undefined) problems.push(`${where}: ${e.name} is written into the manifest; read it from a Secret`);
        }
      }
    }
  }
  for (const m of examples.filter((x) => x.obj.kind === 'Secret')) {
    for (const [k, v] of Object.entries(secretData(m) ?? {})) {
      const pw = urlPassword(v);
      if ((isSecretName(k) && !isMarkedExample(v)) || (pw !== undefined && !isMarkedExample(pw))) problems.push(`${m.file} Secret/${m.obj.metadata?.name}: ${k} is not a marked example value`);
    }
  }
  return problems;
}

/** kustomization.yaml lists every manifest (and no example), and each exists. */
export function kustomizationProblems(kustomization: any, dir = K8S_DIR): string[] {
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml' && !isExampleFile(f)).sort();
  const listed: string[] = [...(kustomization?.resources ?? [])].map(String).sort();
  const problems = listed.filter((f) => !existsSync(join(dir, f))).map((f) => `kustomization.yaml lists ${f}, which does not exist`);
  problems.push(...files.filter((f) => !listed.includes(f)).map((f) => `kustomization.yaml does not list ${f}`));
  problems.push(...listed.filter((f) => isExampleFile(f)).map((f) => `kustomization.yaml applies the example ${f}`));
  const images: string[] = (kustomization?.images ?? []).map((i: any) => String(i?.name));
  for (const name of ['linan', 'linan-mosquitto']) if (!images.includes(name)) problems.push(`kustomization.yaml does not set the image ${name}`);
  return problems;
}

/**
 * Mosquitto: the ConfigMap its pod mounts is made (README) from deploy/mosquitto's files, the config is
 * deploy/mosquitto/mosquitto.conf, and the apps' MQTT_URL reaches a Service of the broker on its listener port.
 */
export function k8sMosquittoProblems(manifests: Manifest[], examples: Manifest[], apps: K8sApp[], readme: string, root = REPO): string[] {
  const problems: string[] = [];
  const broker = workloads(manifests).find((m) => (m.obj.spec?.template?.spec?.containers ?? []).some((c: any) => /mosquitto/.test(String(c.image))));
  if (!broker) return ['no Mosquitto workload in deploy/k8s'];
  const spec = broker.obj.spec.template.spec;
  const image = (spec.containers ?? []).find((c: any) => /mosquitto/.test(String(c.image)))?.image;
  if (!isBrokerImage(image)) problems.push(`the broker runs ${image}, not linan-mosquitto (built from ${MOSQUITTO_BUILD_CONTEXT}, with the plugin mosquitto.conf loads)`);
  if (!readme.split('\n').some((l) => /docker build\b.*\blinan-mosquitto\b.*\sdeploy\/mosquitto\b/.test(l))) {
    problems.push('deploy/k8s/README.md does not say how to build the broker\'s image (docker build -t …/linan-mosquitto:<tag> deploy/mosquitto)');
  }
  for (const vol of (spec.volumes ?? []).filter((v: any) => v.configMap)) {
    const name = vol.configMap.name;
    const cmd = readme.split('\n').find((l) => new RegExp(`create configmap ${name}\\b`).test(l)) ?? '';
    const sources = [...cmd.matchAll(/--from-file=(\S+)/g)].map((x) => x[1]);
    if (!sources.length) problems.push(`deploy/k8s/README.md does not say how to create ConfigMap ${name} (kubectl create configmap ${name} --from-file=...)`);
    for (const s of sources) if (!existsSync(join(root, s))) problems.push(`ConfigMap ${name} is made from ${s}, which does not exist`);
    const mounts = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].flatMap((c: any) => (c.volumeMounts ?? []).filter((vm: any) => vm.name === vol.name));
    for (const vm of mounts) {
      if (vm.subPath && !sources.some((s) => basename(s) === vm.subPath)) problems.push(`ConfigMap ${name} has no ${vm.subPath} (mounted at ${vm.mountPath})`);
      if (vm.mountPath === '/mosquitto/config/mosquitto.conf' && !sources.includes('deploy/mosquitto/mosquitto.conf')) problems.push('the broker\'s mosquitto.conf is not deploy/mosquitto/mosquitto.conf');
    }
  }
  const conf = readFileSync(join(root, 'deploy', 'mosquitto', 'mosquitto.conf'), 'utf8');
  const listener = Number(/^\s*listener\s+(\d+)/m.exec(conf)?.[1] ?? 1883);
  const mqttPort = (spec.containers ?? []).flatMap((c: any) => c.ports ?? []).find((p: any) => p.name === 'mqtt');
  if (Number(mqttPort?.containerPort) !== listener) problems.push(`the broker's container port "mqtt" is ${mqttPort?.containerPort}, mosquitto.conf listens on ${listener}`);
  // the service account the init step creates is the one in the apps' MQTT_URL
  const init = (spec.initContainers ?? []).find((c: any) => (c.command ?? []).some((x: string) => /init-dynsec\.sh$/.test(x)));
  if (!init) problems.push('the broker has no init container running init-dynsec.sh');
  const initEnv = init ? resolveEnv(`${broker.file} init container`, broker, init, manifests, examples, problems) : {};
  if (init) problems.push(...platformUserProblems(initEnv, `${broker.file} init container`));
  for (const a of apps.filter((x) => x.env.MQTT_URL)) {
    const hp = hostPort(a.env.MQTT_URL, 1883)!;
    const u = new URL(a.env.MQTT_URL);
    if (init && (decodeURIComponent(u.username) !== (initEnv.MQTT_SERVICE_USERNAME ?? 'linan') || decodeURIComponent(u.password) !== initEnv.MQTT_SERVICE_PASSWORD)) {
      problems.push(`${a.where}: MQTT_URL's user and password are not the service account init-dynsec.sh creates`);
    }
    const svc = byKind(manifests, 'Service', hp.host.split('.')[0]);
    if (!svc || !selects(svc.obj.spec?.selector, podLabels(broker))) problems.push(`${a.where}: MQTT_URL host ${hp.host} is not a Service of the broker`);
    else if (!(svc.obj.spec.ports ?? []).some((p: any) => p.port === hp.port && (p.targetPort === listener || p.targetPort === 'mqtt'))) {
      problems.push(`${a.where}: MQTT_URL port ${hp.port} does not reach the broker's listener ${listener}`);
    }
  }
  return problems;
}
