import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { DeviceCredentialsDirectory, DeviceCredentialsError } from '../../application/ports/device-credentials-directory';
import { brokerAddress } from './broker-url';

const CONTROL_TOPIC = '$CONTROL/dynamic-security/v1';
const RESPONSE_TOPIC = `${CONTROL_TOPIC}/response`;
/** Every device account has a role of its own with this prefix: that is how reconciliation tells devices apart. */
export const DEVICE_ROLE_PREFIX = 'device:';
const LIST_PAGE = 10_000;
/** What a device may publish to under its own level; the gateway subscribes to exactly these. */
export const DEVICE_PUBLISH_CHANNELS = ['events', 'heartbeat', 'status'] as const;

export interface MosquittoAdminOptions {
  /** MQTT_URL with the service account (mqtt://user:pass@host:port). */
  url: string;
  clientId: string;
  /** How long one command may take before the caller is told the broker is unavailable. */
  timeoutMs: number;
}

type Command = { command: string } & Record<string, unknown>;
interface CommandResponse {
  command: string;
  error?: string;
  data?: unknown;
  correlationData?: string;
}
interface Pending {
  resolve: (r: CommandResponse[]) => void;
  timer: NodeJS.Timeout;
  reject: (e: Error) => void;
}

const deviceRole = (serial: string) => `${DEVICE_ROLE_PREFIX}${serial}`;

/**
 * CONTRACT's per-device ACL as dynamic-security ACLs. Mosquitto 2.0 has no %c in these, hence a role per device.
 * Publishing is limited to the channels the gateway takes (as the embedded broker does): a device publishing
 * anywhere else, its own deeper topics included, is refused by the broker instead of vanishing unheard.
 */
function deviceAcls(serial: string) {
  const acl = (acltype: string, topic: string) => ({ acltype, topic, allow: true });
  return [
    ...DEVICE_PUBLISH_CHANNELS.map((c) => acl('publishClientSend', `devices/${serial}/${c}`)),
    acl('subscribeLiteral', `devices/${serial}/commands`),
    acl('publishClientReceive', `devices/${serial}/commands`),
  ];
}

/**
 * Device accounts in Mosquitto's dynamic-security plugin, administered through its control topic: each change is
 * one JSON message on `$CONTROL/dynamic-security/v1`, answered on `.../response`. Every provisioning replica sees
 * every answer, so each command carries a correlation id and only the matching answer settles it.
 *
 * Commands go at QoS 0 and are not queued while disconnected: a command that timed out must not be replayed
 * later behind the caller's back (the caller has already reported the failure and will retry).
 */
export class MosquittoDeviceCredentials extends DeviceCredentialsDirectory {
  private client: MqttClient | null = null;
  /** Subscribed to the answers on the current connection. */
  private ready = false;
  private readonly waiters = new Set<() => void>();
  /** Told each time the connection becomes ready, the first time and after every reconnection. */
  private readonly readyListeners = new Set<() => void>();
  private readonly pending = new Map<string, Pending>();
  /** Why the connection is not ready, for the caller's error message. */
  private problem: string | null = null;

  constructor(private readonly options: MosquittoAdminOptions, private readonly log: Logger) {
    super();
  }

  get connected(): boolean {
    return this.ready;
  }

  /**
   * Calls `listener` each time the admin connection becomes ready after this call: after every reconnection, such as
   * a broker restart, whose accounts may then differ from before (a volume restored from a backup). Returns a
   * function that removes it.
   */
  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /** Opens the admin connection (once; it then reconnects on its own). Resolves when it can take commands. */
  async start(): Promise<void> {
    if (!this.client) this.connect();
    await this.whenReady();
  }

  private connect(): void {
    const address = brokerAddress(this.options.url);
    const client = mqtt.connect(address.url, {
      clientId: this.options.clientId, username: address.username, password: address.password,
      protocolVersion: 5, clean: true, reconnectPeriod: 1000, connectTimeout: this.options.timeoutMs,
      // keep trying after a refused CONNACK too: the broker may be starting with its account file not yet in place
      reconnectOnConnackError: true,
      queueQoSZero: false, resubscribe: false,
    });
    this.client = client;
    client.on('connect', () => {
      client.subscribe(RESPONSE_TOPIC, { qos: 0 }, (err, granted) => {
        const code = granted?.[0]?.qos;
        if (err || code === undefined || code > 2) {
          this.problem = 'the service account may not subscribe to $CONTROL/dynamic-security/v1/response';
          this.log.error({ err, code }, 'cannot subscribe to the dynamic-security responses; is the service account allowed $CONTROL/dynamic-security/#?');
          return;
        }
        this.ready = true;
        this.problem = null;
        this.log.info({ broker: address.display }, 'device-account admin connection ready');
        for (const w of this.waiters) w();
        this.waiters.clear();
        for (const l of this.readyListeners) l();
      });
    });
    client.on('close', () => {
      if (this.ready) this.log.warn({ broker: address.display }, 'device-account admin connection lost; reconnecting');
      this.ready = false;
    });
    client.on('error', (err) => {
      this.problem = err.message;
      this.log.warn({ err: err.message, broker: address.display }, 'device-account admin connection error');
    });
    client.on('message', (topic, payload) => {
      if (topic === RESPONSE_TOPIC) this.settle(payload);
    });
  }

  private whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new DeviceCredentialsError('unavailable',
          `no connection to the MQTT broker within ${this.options.timeoutMs} ms${this.problem ? ` (${this.problem})` : ''}`));
      }, this.options.timeoutMs);
      this.waiters.add(done);
    });
  }

  private settle(payload: Buffer): void {
    let responses: CommandResponse[];
    try {
      responses = (JSON.parse(payload.toString()) as { responses?: CommandResponse[] }).responses ?? [];
    } catch {
      return;
    }
    const id = responses[0]?.correlationData?.split('#')[0];
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) return; // another replica's answer
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(responses);
  }

  /**
   * Sends the commands as one message and checks every answer. `tolerated` errors (such as "Client not found" when
   * deleting) make the commands idempotent.
   */
  private async run(what: string, commands: Command[], tolerated: string[] = []): Promise<CommandResponse[]> {
    if (!this.client) this.connect();
    await this.whenReady();
    const id = randomUUID();
    const responses = await new Promise<CommandResponse[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DeviceCredentialsError('unavailable', `the MQTT broker did not answer (${what}) within ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const body = JSON.stringify({ commands: commands.map((c, i) => ({ ...c, correlationData: `${id}#${i}` })) });
      this.client!.publish(CONTROL_TOPIC, body, { qos: 0 }, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new DeviceCredentialsError('unavailable', `cannot send to the MQTT broker (${what}): ${err.message}`, { cause: err }));
      });
    });
    const failed = responses.find((r) => r.error && !tolerated.includes(r.error));
    if (failed) throw new DeviceCredentialsError('refused', `the MQTT broker refused ${failed.command} (${what}): ${failed.error}`);
    if (responses.length !== commands.length) {
      throw new DeviceCredentialsError('refused', `the MQTT broker answered ${responses.length} of ${commands.length} commands (${what})`);
    }
    return responses;
  }

  /**
   * Deletes and recreates the account and its role in one message: a fresh account repairs any drift (a client id
   * no longer bound, a changed ACL, a disabled client), and deleting the client closes a session that used the
   * old secret (Mosquitto 2.0.11 disconnects a deleted client at once, as it does on setClientPassword).
   */
  async upsert(serial: string, secret: string, options: { enabled?: boolean } = {}): Promise<void> {
    const rolename = deviceRole(serial);
    await this.run(`account of device ${serial}`, [
      { command: 'deleteClient', username: serial },
      { command: 'deleteRole', rolename },
      { command: 'createRole', rolename, textname: `device ${serial}: its own topics only`, acls: deviceAcls(serial) },
      // the client id is bound to the username: another client id with these credentials is refused
      { command: 'createClient', username: serial, clientid: serial, password: secret, textname: 'device', roles: [{ rolename }] },
      // a device not yet installed in a household is refused at CONNECT, as the embedded broker refuses it
      ...(options.enabled === false ? [{ command: 'disableClient', username: serial }] : []),
    ], ['Client not found', 'Role not found']);
  }

  async enable(serial: string): Promise<void> {
    await this.run(`enable device ${serial}`, [{ command: 'enableClient', username: serial }]);
  }

  async revoke(serial: string): Promise<void> {
    await this.run(`revoke device ${serial}`, [
      { command: 'deleteClient', username: serial },
      { command: 'deleteRole', rolename: deviceRole(serial) },
    ], ['Client not found', 'Role not found']);
  }

  async listSerials(): Promise<string[]> {
    const serials: string[] = [];
    for (let offset = 0; ; offset += LIST_PAGE) {
      const [r] = await this.run('list device roles', [{ command: 'listRoles', verbose: false, count: LIST_PAGE, offset }]);
      const data = r.data as { totalCount?: number; roles?: (string | { rolename: string })[] } | undefined;
      const roles = (data?.roles ?? []).map((x) => (typeof x === 'string' ? x : x.rolename));
      for (const name of roles) if (name.startsWith(DEVICE_ROLE_PREFIX)) serials.push(name.slice(DEVICE_ROLE_PREFIX.length));
      if (roles.length < LIST_PAGE || offset + LIST_PAGE >= (data?.totalCount ?? 0)) return serials;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.ready = false;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new DeviceCredentialsError('unavailable', 'the device-account admin connection was closed'));
      this.pending.delete(id);
    }
    if (client) await client.endAsync(true).catch(() => undefined);
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}
