import { connect as tcpConnect, createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { generate, parser, type IConnectPacket, type Packet } from 'mqtt-packet';
import { peekConnectLevel, routeMqttConnection, setMqtt5CloseReason } from './mqtt5-bridge';

/**
 * The bridge in front of a bare aedes with hooks shaped like the embedded broker's: `pw` is the only password,
 * user `bad4` is refused with 3.1.1 code 4, publishing under `denied/` is refused (and the reason told), a publish
 * under `slow/` is acknowledged only when the test lets it through, one under `fail/` fails as a failed store
 * does, subscribing to `denied/#` is refused.
 */
describe('MQTT 5 bridge in front of aedes', () => {
  let broker: Aedes;
  let server: Server;
  let port: number;
  const gates = new Map<string, () => void>();

  beforeAll(async () => {
    broker = await Aedes.createBroker({
      authenticate: (_client, username, password, done) => {
        if (username === 'bad4') return done(Object.assign(new Error('bad'), { returnCode: 4 }) as AuthenticateError, false);
        if (password?.toString() !== 'pw') return done(Object.assign(new Error('no'), { returnCode: 5 }) as AuthenticateError, false);
        done(null, true);
      },
      authorizePublish: (client, packet, done) => {
        if (client && packet.topic.startsWith('denied/')) {
          setMqtt5CloseReason(client.conn, { reasonCode: 0x87, messageId: packet.messageId });
          return done(new Error('not authorized'));
        }
        if (packet.topic.startsWith('slow/')) return void gates.set(packet.topic, () => done(null));
        if (packet.topic.startsWith('fail/')) return done(new Error('could not store'));
        done(null);
      },
      authorizeSubscribe: (_client, sub, done) => done(null, sub.topic.startsWith('denied/') ? null : sub),
    });
    server = createServer((socket) => routeMqttConnection(broker, socket, { connectTimeoutMs: 300 }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  let seq = 0;
  const clients: MqttClient[] = [];
  afterEach(() => clients.splice(0).forEach((c) => c.end(true)));

  function client(protocolVersion: 3 | 4 | 5, extra: IClientOptions = {}): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
        protocolVersion, clientId: `c${++seq}`, username: `c${seq}`, password: 'pw', reconnectPeriod: 0, ...extra,
      });
      clients.push(c);
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
  }
  /** A client id aedes knows only through the bridge: the aedes client's connection is then not the socket. */
  const aedesConn = (id: string) => (broker as unknown as { clients: Record<string, Client> }).clients[id]?.conn;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  describe(peekConnectLevel.name, () => {
    const bytes = (protocolVersion: 3 | 4 | 5) => generate({
      cmd: 'connect', protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT', protocolVersion, clientId: 'x', clean: true, keepalive: 0,
    } as IConnectPacket);

    it.each([3, 4, 5] as const)('reads level %i, and asks for more until the level byte is there', (v) => {
      const b = bytes(v);
      const levelAt = v === 3 ? 10 : 8;
      for (let n = 0; n <= levelAt; n++) expect(peekConnectLevel(b.subarray(0, n))).toBeUndefined();
      expect(peekConnectLevel(b.subarray(0, levelAt + 1))).toBe(v);
    });

    it.each([
      ['a PINGREQ', Buffer.from([0xc0, 0x00])],
      ['HTTP', Buffer.from('GET / HTTP/1.1\r\n')],
      ['a CONNECT with a strange protocol name', Buffer.from([0x10, 0x0a, 0x00, 0x05, 0x41])],
      ['a remaining length over 4 bytes', Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ])('leaves %s to aedes', (_name, b) => {
      expect(peekConnectLevel(b)).toBeNull();
    });
  });

  it.each([3, 4] as const)('hands an MQTT %i client to aedes on its own socket', async (v) => {
    const c = await client(v);
    await c.publishAsync('ok/x', 'hi', { qos: 1 });
    expect(aedesConn(c.options.clientId!)).toBeInstanceOf(Socket);
  });

  it('connects an MQTT 5 client through the bridge: publish QoS 0 and 1 both ways, PUBACK reason 0', async () => {
    const device = await client(5);
    expect(aedesConn(device.options.clientId!)).not.toBeInstanceOf(Socket);
    const other = await client(4);
    const received: { topic: string; payload: string; qos: number }[] = [];
    other.on('message', (topic, payload, p) => received.push({ topic, payload: payload.toString(), qos: p.qos }));
    await other.subscribeAsync('ok/#', { qos: 1 });
    device.on('message', (topic, payload, p) => received.push({ topic, payload: payload.toString(), qos: p.qos }));
    const granted = await device.subscribeAsync('cmd/x', { qos: 1 });
    expect(granted).toMatchObject([{ topic: 'cmd/x', qos: 1 }]);

    const acks: Packet[] = [];
    device.on('packetreceive', (p) => p.cmd === 'puback' && acks.push(p));
    await device.publishAsync('ok/e', 'one', { qos: 1, properties: { contentType: 'application/json', userProperties: { k: 'v' } } });
    await device.publishAsync('ok/h', 'zero', { qos: 0 });
    await other.publishAsync('cmd/x', 'silence', { qos: 1 });
    await other.publishAsync('cmd/x', 'selftest', { qos: 0 });
    await waitFor(() => received.length === 4);
    expect(acks).toEqual([expect.objectContaining({ reasonCode: 0 })]);
    expect(received).toEqual(expect.arrayContaining([
      { topic: 'ok/e', payload: 'one', qos: 1 }, { topic: 'ok/h', payload: 'zero', qos: 0 },
      { topic: 'cmd/x', payload: 'silence', qos: 1 }, { topic: 'cmd/x', payload: 'selftest', qos: 0 },
    ]));
  });

  it('sends the PUBACK only when aedes does: after the broker hook has finished', async () => {
    const raw = await RawV5.connect(port, 'slow1');
    raw.send({ cmd: 'publish', topic: 'slow/1', payload: Buffer.from('x'), qos: 1, messageId: 21, retain: false, dup: false });
    await waitFor(() => gates.has('slow/1'));
    await sleep(100);
    expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
    gates.get('slow/1')!();
    expect(await raw.next('puback')).toMatchObject({ messageId: 21, reasonCode: 0 });
    raw.end();
  });

  it.each([
    ['a wrong password', '0x87', { password: 'nope' }],
    ['missing credentials', '0x87', { username: undefined, password: undefined }],
    ['3.1.1 code 4 (bad user name or password)', '0x86', { username: 'bad4' }],
  ])('refuses %s with CONNACK %s', async (_name, code, extra) => {
    await expect(client(5, extra)).rejects.toMatchObject({ code: Number(code) });
  });

  it('answers an ACL-denied publish with PUBACK 0x87 and DISCONNECT 0x87, then closes', async () => {
    const raw = await RawV5.connect(port, 'acl1');
    raw.send({ cmd: 'publish', topic: 'denied/x', payload: Buffer.from('x'), qos: 1, messageId: 5, retain: false, dup: false });
    await raw.closed;
    expect(raw.packets.slice(1)).toEqual([
      expect.objectContaining({ cmd: 'puback', messageId: 5, reasonCode: 0x87 }),
      expect.objectContaining({ cmd: 'disconnect', reasonCode: 0x87 }),
    ]);
  });

  it('closes without a PUBACK, after DISCONNECT 0x80, when the broker hook fails (the event was not stored)', async () => {
    const raw = await RawV5.connect(port, 'fail1');
    raw.send({ cmd: 'publish', topic: 'fail/x', payload: Buffer.from('x'), qos: 1, messageId: 6, retain: false, dup: false });
    await raw.closed;
    expect(raw.packets.slice(1)).toEqual([expect.objectContaining({ cmd: 'disconnect', reasonCode: 0x80 })]);
  });

  it('says DISCONNECT 0x8D when the keep-alive runs out', async () => {
    const raw = await RawV5.connect(port, 'idle1', undefined, false, 1);
    await raw.closed; // aedes allows 1.5 × keep-alive
    expect(raw.packets.slice(1)).toEqual([expect.objectContaining({ cmd: 'disconnect', reasonCode: 0x8d })]);
  });

  it('SUBACK carries 0x87 for a refused filter and the granted QoS for the others; UNSUBACK one code per filter', async () => {
    const raw = await RawV5.connect(port, 'sub1');
    raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'denied/cmd', qos: 1 }, { topic: 'cmd/sub1', qos: 1 }, { topic: 'x/0', qos: 0 }] });
    expect(await raw.next('suback')).toMatchObject({ messageId: 3, granted: [0x87, 1, 0] });
    raw.send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['cmd/sub1', 'x/0'] });
    expect(await raw.next('unsuback')).toMatchObject({ messageId: 4, granted: [0, 0] });
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
    raw.end();
  });

  describe('the will', () => {
    let watcher: MqttClient;
    const wills: string[] = [];
    beforeEach(async () => {
      watcher = await client(4);
      watcher.on('message', (topic) => wills.push(topic));
      await watcher.subscribeAsync('will/#', { qos: 1 });
    });
    const withWill = (id: string) => RawV5.connect(port, id, { topic: `will/${id}`, payload: Buffer.from('offline'), qos: 1, retain: false });

    it('is published after DISCONNECT 0x04 (disconnect with will message)', async () => {
      const raw = await withWill('w04');
      raw.send({ cmd: 'disconnect', reasonCode: 0x04 });
      await raw.closed;
      await waitFor(() => wills.includes('will/w04'));
    });

    it('is published when the connection drops', async () => {
      const raw = await withWill('wdrop');
      raw.socket.destroy();
      await waitFor(() => wills.includes('will/wdrop'));
    });

    it('is not published after a normal DISCONNECT', async () => {
      const raw = await withWill('w00');
      raw.send({ cmd: 'disconnect', reasonCode: 0 });
      await raw.closed;
      await sleep(200);
      expect(wills).not.toContain('will/w00');
    });
  });

  it('refuses a topic alias with DISCONNECT 0x94', async () => {
    const raw = await RawV5.connect(port, 'alias1');
    expect(raw.packets[0]).toEqual(expect.not.objectContaining({ properties: expect.objectContaining({ topicAliasMaximum: expect.anything() }) }));
    raw.send({ cmd: 'publish', topic: 'ok/a', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false, properties: { topicAlias: 1 } });
    await raw.closed;
    expect(raw.packets.slice(1)).toEqual([expect.objectContaining({ cmd: 'disconnect', reasonCode: 0x94 })]);
  });

  it('tells the device about an administrative close (DISCONNECT 0x98)', async () => {
    const raw = await RawV5.connect(port, 'admin1');
    const c = (broker as unknown as { clients: Record<string, Client> }).clients.admin1;
    setMqtt5CloseReason(c.conn, { reasonCode: 0x98 });
    c.close();
    await raw.closed;
    expect(raw.packets.slice(1)).toEqual([expect.objectContaining({ cmd: 'disconnect', reasonCode: 0x98 })]);
  });

  it('bridges a CONNECT that arrives one byte at a time', async () => {
    const raw = await RawV5.connect(port, 'slowconnect', undefined, true);
    expect(raw.packets[0]).toMatchObject({ cmd: 'connack', reasonCode: 0 });
    raw.end();
  });

  it('closes a connection that sends nothing', async () => {
    const s = tcpConnect(port, '127.0.0.1');
    const t0 = Date.now();
    await new Promise((r) => s.once('close', r));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A hand-driven MQTT 5 client, for what mqtt.js will not send or does not show (aliases, reason codes). */
class RawV5 {
  readonly packets: Packet[] = [];
  readonly closed: Promise<void>;
  private seen = 0;

  private constructor(readonly socket: Socket) {
    const p = parser({ protocolVersion: 5 });
    p.on('packet', (packet: Packet) => this.packets.push(packet));
    socket.on('data', (d) => p.parse(d));
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  static async connect(port: number, id: string, will?: IConnectPacket['will'], byteByByte = false, keepalive = 30): Promise<RawV5> {
    const socket = tcpConnect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const raw = new RawV5(socket);
    const bytes = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: id, username: id, password: Buffer.from('pw'), clean: true, keepalive, will }, { protocolVersion: 5 });
    if (byteByByte) {
      for (const b of bytes) {
        socket.write(Buffer.from([b]));
        await new Promise((r) => setTimeout(r, 2));
      }
    } else socket.write(bytes);
    const ack = await raw.next('connack');
    if (ack.cmd !== 'connack' || ack.reasonCode !== 0) throw new Error(`refused ${JSON.stringify(ack)}`);
    return raw;
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet, { protocolVersion: 5 }));
  }

  /** The next packet of that kind after those already taken. */
  async next(cmd: Packet['cmd']): Promise<Packet> {
    let found: Packet | undefined;
    await waitFor(() => {
      const i = this.packets.findIndex((p, n) => n >= this.seen && p.cmd === cmd);
      if (i < 0) return false;
      found = this.packets[i];
      this.seen = i + 1;
      return true;
    });
    return found!;
  }

  end(): void {
    this.socket.end();
  }
}
