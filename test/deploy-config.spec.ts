/**
 * The deployment files against the code, without Docker or a cluster: docker-compose.yml, the nginx edge,
 * deploy/k8s, the Dockerfile and the edge route table. Each check is a function that returns its problems; the
 * second half breaks a copy of the files on purpose and expects the matching check to name the fault.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EDGE_ROUTES, type EdgeRoute } from '@linan/runtime';
import {
  composeAppProblems, composeApps, composeDependencyProblems, composeKafkaProblems, composeMosquittoProblems, composeMountProblems,
  composeSecretProblems, dockerfileEnv, parseEnvFile, type ComposeFile,
} from './deploy/compose-checks';
import {
  k8sAppProblems, k8sApps, k8sIngressProblems, k8sMosquittoProblems, k8sSecretProblems, k8sServiceProblems, k8sAvailabilityProblems, K8S_DIR, kustomizationProblems,
  loadManifests, type Manifest,
} from './deploy/k8s-checks';
import { mosquittoFiles, mosquittoPluginProblems } from './deploy/mosquitto-checks';
import { nginxProblems, parseNginx } from './deploy/nginx-checks';
import { CONSOLE_PUBLIC, REPO, routeTableProblems, servedRoutes } from './deploy/served-routes';

const read = (...p: string[]) => readFileSync(join(REPO, ...p), 'utf8');
const composeText = read('docker-compose.yml');
const loadCompose = (): ComposeFile => parse(composeText, { merge: true }) as ComposeFile;
const exampleEnv = parseEnvFile(read('deploy', 'compose.env.example'));
const dockerfile = read('Dockerfile');
const nginxText = read('deploy', 'nginx', 'linan.conf');
const k8sReadme = read('deploy', 'k8s', 'README.md');
const clone = <T>(x: T): T => structuredClone(x);

/** The environment variables of config.ts's schema, read from its source. */
function configVariables(): string[] {
  const source = read('libs', 'platform', 'src', 'config', 'config.ts');
  const schema = /const envSchema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(source)?.[1] ?? '';
  return [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]);
}
/** Variables without a row of their own (`| \`NAME\` |`) in the guide's configuration table. */
const undocumented = (vars: string[], doc: string) => vars.filter((v) => !doc.includes(`| \`${v}\` |`));

function composeAll(compose: ComposeFile, nginx = nginxText, routes: readonly EdgeRoute[] = EDGE_ROUTES) {
  const { apps, problems } = composeApps(compose, exampleEnv, dockerfileEnv(dockerfile));
  return {
    apps,
    commands: problems,
    apps_: composeAppProblems(apps),
    dependencies: composeDependencyProblems(compose, apps),
    mounts: composeMountProblems(compose),
    mosquitto: composeMosquittoProblems(compose, apps, exampleEnv),
    kafka: composeKafkaProblems(compose, apps),
    nginx: nginxProblems(parseNginx(nginx), routes, compose, apps),
  };
}

function k8sAll(manifests: Manifest[], examples: Manifest[], routes: readonly EdgeRoute[] = EDGE_ROUTES) {
  const { apps, problems } = k8sApps(manifests, examples);
  return {
    apps,
    workloads: problems,
    apps_: k8sAppProblems(apps),
    services: k8sServiceProblems(manifests, apps),
    availability: k8sAvailabilityProblems(manifests, apps),
    ingress: k8sIngressProblems(manifests, apps, routes),
    secrets: k8sSecretProblems(manifests, examples),
    mosquitto: k8sMosquittoProblems(manifests, examples, apps, k8sReadme),
  };
}

describe('deployment files', () => {
  describe('edge route table', () => {
    it('sends every route an app serves to an app that serves it, and lists nothing the apps do not serve', () => {
      expect(routeTableProblems(servedRoutes(), EDGE_ROUTES, readdirSync(CONSOLE_PUBLIC))).toEqual([]);
    });
  });

  describe('docs/deployment.md', () => {
    it('describes every variable config.ts reads', () => {
      expect(configVariables().length).toBeGreaterThan(30);
      expect(undocumented(configVariables(), read('docs', 'deployment.md'))).toEqual([]);
    });
  });

  describe('Dockerfile', () => {
    it('builds on node:20-bookworm-slim in stages, runs production deps as a non-root user, checks /health on PORT', () => {
      const stages = dockerfile.match(/^FROM\s/gm) ?? [];
      expect(stages.length).toBeGreaterThanOrEqual(2);
      expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
      expect(dockerfile).toMatch(/npm ci --omit=dev/);
      expect(dockerfile).toMatch(/^USER node$/m);
      expect(dockerfileEnv(dockerfile)).toMatchObject({ NODE_ENV: 'production', PORT: '3000' });
      expect(dockerfile).toMatch(/^HEALTHCHECK .*process\.env\.PORT.*\/health/ms);
    });
  });

  describe('docker-compose.yml', () => {
    const r = composeAll(loadCompose());

    it('runs every app with node dist/apps/<app>/main.js', () => {
      expect(r.commands).toEqual([]);
      expect(new Set(r.apps.map((a) => a.app))).toEqual(new Set(['gateway', 'triage', 'dispatch', 'provisioning', 'console']));
    });
    it("gives each app a distributed configuration that loadConfig accepts, its PORT and a health check on it", () => expect(r.apps_).toEqual([]));
    it('starts each app after the services its configuration names are healthy', () => expect(r.dependencies).toEqual([]));
    it('mounts only files that exist', () => expect(r.mounts).toEqual([]));
    it("runs Mosquitto on the project's config with the dynamic-security file made first", () => expect(r.mosquitto).toEqual([]));
    it('lets Kafka create topics with a partition per consumer, on a cluster id of its own', () => expect(r.kafka).toEqual([]));
    it('routes the nginx edge by the route table', () => expect(r.nginx).toEqual([]));
    it('writes no secret into the file', () => expect(composeSecretProblems(loadCompose(), exampleEnv, composeText)).toEqual([]));
  });

  describe('deploy/mosquitto', () => {
    it('loads the project\'s plugin before dynamic security, where the image installs it, set as the gateways and provisioning expect', () => {
      expect(mosquittoPluginProblems()).toEqual([]);
    });
  });

  describe('deploy/k8s', () => {
    const loaded = loadManifests();
    const r = k8sAll(loaded.manifests, loaded.examples);

    it('parses, and kustomization.yaml applies every manifest but the examples', () => {
      expect(loaded.problems).toEqual([]);
      expect(kustomizationProblems(parse(read('deploy', 'k8s', 'kustomization.yaml')))).toEqual([]);
    });
    it('runs every app with node dist/apps/<app>/main.js', () => {
      expect(r.workloads).toEqual([]);
      expect(new Set(r.apps.map((a) => a.app))).toEqual(new Set(['gateway', 'triage', 'dispatch', 'provisioning', 'console']));
    });
    it('gives each app a configuration loadConfig accepts, probes on /health at PORT, resources, stable gateway ids', () => expect(r.apps_).toEqual([]));
    it('has a Service for each app', () => expect(r.services).toEqual([]));
    it('keeps a replica of each app running through node drains and spreads replicas over nodes', () => expect(r.availability).toEqual([]));
    it('routes the Ingress by the route table', () => expect(r.ingress).toEqual([]));
    it('keeps secrets out of the manifests', () => expect(r.secrets).toEqual([]));
    it("runs Mosquitto on the project's files, reachable at the apps' MQTT_URL", () => expect(r.mosquitto).toEqual([]));
  });

  // ---- each check can fail: break a copy, expect the fault named --------------------------------------------------
  describe('catches', () => {
    const compose = () => clone(loadCompose());
    const k8s = () => clone(loadManifests());
    // the object of that name that is not its Service: the workload, or the ConfigMap
    const workload = (ms: Manifest[], name: string) => ms.find((m) => m.obj.metadata?.name === name && !['Service', 'PodDisruptionBudget'].includes(m.obj.kind))!.obj;

    it('a route the apps serve that the table forgets, and a table entry nobody serves', () => {
      const served = servedRoutes();
      const withoutAides = EDGE_ROUTES.filter((x) => x.path !== '/api/v1/aides');
      expect(routeTableProblems(served, withoutAides, readdirSync(CONSOLE_PUBLIC)).join('\n')).toMatch(/\/api\/v1\/aides.*sends it nowhere/);
      const wrongApp = EDGE_ROUTES.map((x) => (x.path === '/api/v1/alerts' ? { ...x, app: 'provisioning' as const } : x));
      expect(routeTableProblems(served, wrongApp, readdirSync(CONSOLE_PUBLIC)).join('\n')).toMatch(/alerts.*to provisioning, which does not serve it/);
      expect(routeTableProblems(served, EDGE_ROUTES, [...readdirSync(CONSOLE_PUBLIC), 'logo.svg']).join('\n')).toMatch(/CONSOLE_PAGE_FILES/);
    });

    it('a wrong command, a bad environment, a port or health path that disagree', () => {
      const c = compose();
      c.services.dispatch.command = ['node', 'dist/apps/dispatcher/main.js'];
      c.services.triage.environment = { ...(c.services.triage.environment as object), KAFKA_BROKERS: 'kafka' };
      c.services.console.environment = { ...(c.services.console.environment as object), PORT: '3100' };
      c.services.provisioning.healthcheck = { test: ['CMD', 'wget', 'http://127.0.0.1:3000/metrics'] };
      const r = composeAll(c);
      expect(r.commands.join('\n')).toMatch(/dispatcher.*not an app/);
      expect(r.apps_.join('\n')).toMatch(/service triage: KAFKA_BROKERS: must be host:port/);
      expect(r.apps_.join('\n')).toMatch(/service console: the health check calls port 3000, the app listens on PORT 3100/);
      expect(r.apps_.join('\n')).toMatch(/service provisioning: the health check calls \/metrics/);
    });

    it('an app without its broker, gateways sharing a client id, apps with different JWT secrets', () => {
      const c = compose();
      const env = (s: string) => c.services[s].environment as Record<string, string>;
      delete env('provisioning').MQTT_URL;
      env('gateway-2').MQTT_CLIENT_ID = 'linan-gateway-1';
      env('console').JWT_SECRET = 'a'.repeat(40);
      const problems = composeAll(c).apps_.join('\n');
      expect(problems).toMatch(/service provisioning: MQTT_URL: required in distributed mode/);
      expect(problems).toMatch(/gateways share an MQTT_CLIENT_ID/);
      expect(problems).toMatch(/do not share one JWT_SECRET/);
    });

    it('an app that does not wait for a healthy service, a service without a health check', () => {
      const c = compose();
      c.services.dispatch.depends_on = { postgres: { condition: 'service_started' }, kafka: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } };
      delete c.services.redis.healthcheck;
      const problems = composeAll(c).dependencies.join('\n');
      expect(problems).toMatch(/service dispatch: does not wait for postgres/);
      expect(problems).toMatch(/service redis \(REDIS_URL of .*\) has no health check/);
    });

    it('a missing Mosquitto config, a broker not waiting for the dynamic-security file, a wrong service password', () => {
      const c = compose();
      c.services.mosquitto.volumes = ['./deploy/mosquitto/missing.conf:/mosquitto/config/mosquitto.conf:ro', 'mosquitto-data:/mosquitto/data'];
      delete c.services.mosquitto.depends_on;
      (c.services['gateway-1'].environment as Record<string, string>).MQTT_URL = 'mqtt://linan:other@mosquitto:1883';
      const r = composeAll(c);
      expect(r.mounts.join('\n')).toMatch(/missing\.conf, which does not exist/);
      expect(r.mosquitto.join('\n')).toMatch(/not deploy\/mosquitto\/mosquitto\.conf/);
      expect(r.mosquitto.join('\n')).toMatch(/does not wait for mosquitto-init/);
      expect(composeAll(compose()).mosquitto).toEqual([]);
      const c2 = compose();
      (c2.services['gateway-1'].environment as Record<string, string>).MQTT_URL = 'mqtt://linan:other@mosquitto:1883';
      expect(composeAll(c2).mosquitto.join('\n')).toMatch(/gateway-1: MQTT_URL's user and password are not the service account/);
    });

    it('a configuration variable the guide does not describe', () => {
      expect(undocumented([...configVariables(), 'NEW_SETTING'], read('docs', 'deployment.md'))).toEqual(['NEW_SETTING']);
    });

    it('a Kafka formatted with a fixed cluster id, or the image\'s shared default', () => {
      const fixed = compose();
      fixed.services.kafka.environment = { ...(fixed.services.kafka.environment as object), CLUSTER_ID: 'MkU3OEVBNTcwNTJENDM2Qk' };
      expect(composeAll(fixed).kafka.join('\n')).toMatch(/cluster id of its own/);
      const imageDefault = compose();
      delete imageDefault.services.kafka.command;
      expect(composeAll(imageDefault).kafka.join('\n')).toMatch(/cluster id of its own/);
    });

    it('more consumers than partitions', () => {
      const c = compose();
      c.services.triage.deploy = { replicas: 6 };
      expect(composeAll(c).kafka.join('\n')).toMatch(/6 triage replicas but 4 partitions/);
    });

    it('an nginx location missing, one to the wrong app, a WebSocket without the upgrade', () => {
      const broken = nginxText
        .replace(/location \/api\/v1\/aides \{[^}]*\}/, '')
        .replace('location /api/v1/dispatches { proxy_pass http://linan_console; }', 'location /api/v1/dispatches { proxy_pass http://linan_provisioning; }')
        .replace('proxy_set_header Upgrade $http_upgrade;', '');
      const problems = composeAll(loadCompose(), broken).nginx.join('\n');
      expect(problems).toMatch(/no location for route prefix \/api\/v1\/aides/);
      expect(problems).toMatch(/\/api\/v1\/dispatches goes to provisioning \(provisioning\); the route table says console/);
      expect(problems).toMatch(/\/ws is a WebSocket route but does not pass the upgrade/);
    });

    it('an edge that does not wait for an app it proxies to', () => {
      const c = compose();
      const edge = Object.values(c.services).find((s) => (s.volumes ?? []).map(String).some((v) => v.includes('deploy/nginx/linan.conf')))!;
      delete (edge.depends_on as Record<string, unknown>).dispatch;
      expect(composeAll(c).nginx.join('\n')).toMatch(/proxies to dispatch but does not wait for it/);
    });

    it('a secret written into the compose file', () => {
      const text = composeText.replace('ADMIN_PASSWORD: ${ADMIN_PASSWORD:-}', 'ADMIN_PASSWORD: hunter2hunter2')
        .replace('${JWT_SECRET:-}', '${JWT_SECRET:-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t}')
        .replace(/postgres:\/\/linan:\$\{POSTGRES_PASSWORD:\?[^}]*\}@/, 'postgres://linan:pw1234@');
      const problems = composeSecretProblems(parse(text, { merge: true }) as ComposeFile, exampleEnv, text).join('\n');
      expect(problems).toMatch(/ADMIN_PASSWORD is written into the file/);
      expect(problems).toMatch(/\$\{JWT_SECRET\} defaults to a real-looking secret/);
      expect(problems).toMatch(/DATABASE_URL has a password written into the file/);
    });

    it('k8s: a wrong command, a probe elsewhere, gateways on a Deployment, a missing ConfigMap key', () => {
      const { manifests, examples } = k8s();
      workload(manifests, 'linan-dispatch').spec.template.spec.containers[0].command = ['node', 'dist/apps/dispatch/src/main.js'];
      workload(manifests, 'linan-triage').spec.template.spec.containers[0].readinessProbe.httpGet.path = '/metrics';
      workload(manifests, 'linan-gateway').kind = 'Deployment';
      workload(manifests, 'linan-config').data.KAFKA_BROKERS = 'kafka';
      const r = k8sAll(manifests, examples);
      expect(r.workloads.join('\n')).toMatch(/linan-dispatch.*is not \["node", "dist\/apps\/<app>\/main\.js"\]/);
      expect(r.apps_.join('\n')).toMatch(/linan-triage.*readinessProbe calls \/metrics/);
      expect(r.apps_.join('\n')).toMatch(/2 gateway replicas need a stable MQTT_CLIENT_ID/);
      expect(r.apps_.join('\n')).toMatch(/KAFKA_BROKERS: must be host:port/);
    });

    it('k8s: an Ingress path missing or to the wrong Service, an app without a Service', () => {
      const { manifests, examples } = k8s();
      const ing = manifests.find((m) => m.obj.kind === 'Ingress' && m.obj.metadata.name === 'linan')!.obj;
      const paths = ing.spec.rules[0].http.paths as { path: string; backend: { service: { name: string } } }[];
      ing.spec.rules[0].http.paths = paths.filter((p) => p.path !== '/api/v1/devices');
      paths.find((p) => p.path === '/api/v1/users')!.backend.service.name = 'linan-provisioning';
      const withoutDispatchService = manifests.filter((m) => !(m.obj.kind === 'Service' && m.obj.metadata.name === 'linan-dispatch'));
      const r = k8sAll(withoutDispatchService, examples);
      expect(r.ingress.join('\n')).toMatch(/no path for route prefix \/api\/v1\/devices/);
      expect(r.ingress.join('\n')).toMatch(/\/api\/v1\/users reaches provisioning; the route table says console/);
      expect(r.services.join('\n')).toMatch(/linan-dispatch.*no Service selects its pods/);
    });

    it('k8s: a password in a ConfigMap or env value, a Secret in a deployed manifest, an unmarked example', () => {
      const { manifests, examples } = k8s();
      workload(manifests, 'linan-config').data.REDIS_URL = 'redis://:realpassword@redis:6379';
      workload(manifests, 'linan-console').spec.template.spec.containers[0].env.push({ name: 'JWT_SECRET', value: 'x'.repeat(40) });
      manifests.push({ file: 'oops.yaml', obj: { kind: 'Secret', metadata: { name: 'oops' }, stringData: { A: 'b' } } });
      examples.find((m) => m.obj.metadata.name === 'linan-secrets')!.obj.stringData.JWT_SECRET = 'q'.repeat(40);
      const problems = k8sAll(manifests, examples).secrets.join('\n');
      expect(problems).toMatch(/REDIS_URL holds a URL with a password/);
      expect(problems).toMatch(/linan-console: JWT_SECRET is written into the manifest/);
      expect(problems).toMatch(/Secret\/oops: a Secret with values in a deployed manifest/);
      expect(problems).toMatch(/JWT_SECRET is not a marked example value/);
    });

    it('k8s: an app without a disruption budget or spread, a budget that pins its app, one that selects nothing', () => {
      const { manifests, examples } = k8s();
      const withoutTriageBudget = manifests.filter((m) => !(m.obj.kind === 'PodDisruptionBudget' && m.obj.metadata.name === 'linan-triage'));
      workload(withoutTriageBudget, 'linan-dispatch').spec.template.spec.topologySpreadConstraints = [];
      withoutTriageBudget.find((m) => m.obj.kind === 'PodDisruptionBudget' && m.obj.metadata.name === 'linan-console')!.obj.spec.minAvailable = 2;
      withoutTriageBudget.push({ file: 'x.yaml', obj: { kind: 'PodDisruptionBudget', metadata: { name: 'stale' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'gone' } } } } });
      withoutTriageBudget.push({ file: 'y.yaml', obj: { kind: 'PodDisruptionBudget', metadata: { name: 'broker' }, spec: { minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/component': 'mosquitto' } } } } });
      const problems = k8sAll(withoutTriageBudget, examples).availability.join('\n');
      expect(problems).toMatch(/Deployment\/linan-triage.*no PodDisruptionBudget/);
      expect(problems).toMatch(/Deployment\/linan-dispatch.*not spread over nodes/);
      expect(problems).toMatch(/PodDisruptionBudget\/linan-console: linan-console runs 2 replica\(s\) and the budget lets none be evicted/);
      expect(problems).toMatch(/PodDisruptionBudget\/stale: selects no workload's pods/);
      expect(problems).toMatch(/PodDisruptionBudget\/broker: .* runs 1 replica\(s\) and the budget lets none be evicted/);
    });

    it('k8s: a kustomization that forgets a manifest, a Mosquitto ConfigMap made from files that are not there', () => {
      const kust = parse(read('deploy', 'k8s', 'kustomization.yaml')) as { resources: string[] };
      kust.resources = kust.resources.filter((f) => f !== 'console.yaml');
      expect(kustomizationProblems(kust, K8S_DIR).join('\n')).toMatch(/does not list console\.yaml/);
      const { manifests, examples } = k8s();
      const { apps } = k8sApps(manifests, examples);
      const readme = k8sReadme.replace(/--from-file=deploy\/mosquitto\/init-dynsec\.sh/g, '--from-file=deploy/mosquitto/init.sh');
      const problems = k8sMosquittoProblems(manifests, examples, apps, readme).join('\n');
      expect(problems).toMatch(/made from deploy\/mosquitto\/init\.sh, which does not exist/);
      expect(problems).toMatch(/has no init-dynsec\.sh/);
    });

    it('the broker\'s plugin: loaded after dynamic security, not installed, set apart from the code, reports not granted', () => {
      const files = mosquittoFiles();
      const ours = /^plugin \S+\/linan_device_acl\.so\n(?:plugin_opt_.*\n)*/m.exec(files.conf)![0];
      const late = files.conf.replace(ours, '').replace(/^(plugin_opt_config_file .*)$/m, `$1\n${ours}`);
      expect(mosquittoPluginProblems({ conf: late })).toEqual([expect.stringMatching(/loads dynamic security before linan_device_acl\.so/)]);
      expect(mosquittoPluginProblems({ dockerfile: files.dockerfile.replace('/usr/lib/linan_device_acl.so', '/usr/local/lib/linan_device_acl.so') }))
        .toEqual([expect.stringMatching(/loads \/usr\/lib\/linan_device_acl\.so, deploy\/mosquitto\/Dockerfile installs \/usr\/local\/lib/)]);
      const drifted = files.conf.replace(/^plugin_opt_report_topic .*$/m, 'plugin_opt_report_topic linan/denied')
        .replace(/^plugin_opt_device_channels .*$/m, 'plugin_opt_device_channels events heartbeat');
      expect(mosquittoPluginProblems({ conf: drifted }).join('\n')).toMatch(/report_topic is linan\/denied[\s\S]*device_channels is "events heartbeat"/);
      expect(mosquittoPluginProblems({ conf: files.conf.replace(ours, '') })).toEqual(['mosquitto.conf does not load linan_device_acl.so']);
      const ungranted = files.init.replace(/\$\(acl publishClientReceive 'linan\/broker\/acl-denied'\)/, '');
      expect(mosquittoPluginProblems({ init: ungranted })).toEqual([expect.stringMatching(/does not grant the gateway role publishClientReceive/)]);
    });

    it('the broker\'s plugin does not know the platform\'s accounts as such (a service account renamed in compose)', () => {
      const c = compose();
      (c.services['mosquitto-init'].environment as Record<string, string>).MQTT_SERVICE_USERNAME = 'platform';
      expect(composeAll(c).mosquitto.join('\n'))
        .toMatch(/service mosquitto-init: the account platform init-dynsec\.sh creates is not in the plugin's platform_users/);
    });

    it('the broker\'s image: the stock one in compose and in Kubernetes, no build line, no kustomization entry', () => {
      const c = compose();
      delete c.services.mosquitto.build;
      c.services.mosquitto.image = 'eclipse-mosquitto:2.0';
      expect(composeAll(c).mosquitto).toEqual([expect.stringMatching(/service mosquitto: not built from deploy\/mosquitto/)]);
      const { manifests, examples } = k8s();
      const broker = manifests.find((m) => m.obj.kind === 'StatefulSet' && /mosquitto/.test(m.file))!;
      broker.obj.spec.template.spec.containers[0].image = 'eclipse-mosquitto:2.0';
      const { apps } = k8sApps(manifests, examples);
      const readme = k8sReadme.split('\n').filter((l) => !/docker build.*linan-mosquitto/.test(l)).join('\n');
      const problems = k8sMosquittoProblems(manifests, examples, apps, readme).join('\n');
      expect(problems).toMatch(/the broker runs eclipse-mosquitto:2\.0, not linan-mosquitto/);
      expect(problems).toMatch(/does not say how to build the broker's image/);
      const kust = parse(read('deploy', 'k8s', 'kustomization.yaml')) as { images: { name: string }[] };
      kust.images = kust.images.filter((i) => i.name !== 'linan-mosquitto');
      expect(kustomizationProblems(kust, K8S_DIR)).toEqual(['kustomization.yaml does not set the image linan-mosquitto']);
    });
  });
});
