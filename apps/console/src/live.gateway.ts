import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import type { Socket } from 'node:net';
import type { Server, WebSocket } from 'ws';
import { Topics } from '@linan/contracts';
import { ConsumerHandle, LiveFanout, MessageBus, RootLogger, openEnvelope, type InboundMessage, type LiveMessage } from '@linan/platform';
import { canAccessDistrict, JwtTokenIssuer, type Actor } from '@linan/auth';

/** An alert change from the bus as the consoles are shown it. */
function liveChange(m: InboundMessage): LiveMessage {
  const e = openEnvelope(Topics.alertChanges, m);
  return { district: e.payload.district, body: { type: 'alert.changed', ...e.payload, at: e.occurredAt } };
}

const CONSOLE_ROLES = new Set(['admin', 'operator', 'aide']);
/** A console that misses a ping for this long is dropped, so its browser notices and reconnects. */
const HEARTBEAT_MS = 20_000;
const AUTH_WINDOW_MS = 5_000;
interface LiveSocket extends WebSocket {
  actor?: Actor;
  alive?: boolean;
  /** ws's TCP socket (not in its typings): corked while a burst is written, see LiveGateway.send. */
  _socket?: Pick<Socket, 'cork' | 'uncork' | 'destroyed'>;
}

/**
 * The consoles' live channel at /ws: every alert change and every operator notice from dispatch, each sent only to
 * consoles whose district covers the alert.
 *
 * Both arrive through the live fan-out, which reaches every console process. Alert changes are put on it by the
 * relay below: its consumer group is shared by the console replicas, so with Kafka exactly one replica relays each
 * change, and every replica (this one included) shows it to its own sockets.
 */
@Injectable()
@WebSocketGateway({ path: '/ws' })
export class LiveGateway implements OnGatewayConnection, OnApplicationBootstrap, OnApplicationShutdown {
  @WebSocketServer() server!: Server;
  private consumer: ConsumerHandle | null = null;
  private readonly unsubscribe: () => void;
  private heartbeat: NodeJS.Timeout | null = null;
  /** TCP sockets corked by this tick's sends, uncorked together once the tick's messages are all written. */
  private readonly corked = new Set<NonNullable<LiveSocket['_socket']>>();

  constructor(
    private readonly tokens: JwtTokenIssuer,
    private readonly bus: MessageBus,
    private readonly live: LiveFanout,
    private readonly log: RootLogger,
  ) {
    this.unsubscribe = live.subscribe((m) => this.broadcast(m));
  }

  /**
   * The console sends `{"type":"auth","token":…}` as its first message (a token in the URL would end up in
   * access logs); a socket that does not authenticate within AUTH_WINDOW_MS is closed with 4401.
   */
  handleConnection(socket: LiveSocket): void {
    const deadline = setTimeout(() => socket.close(4401, 'a valid console token is required'), AUTH_WINDOW_MS);
    socket.once('message', (data) => {
      clearTimeout(deadline);
      void this.authenticate(socket, String(data));
    });
    socket.once('close', () => clearTimeout(deadline));
  }

  private async authenticate(socket: LiveSocket, first: string): Promise<void> {
    let token = '';
    try {
      const m = JSON.parse(first) as { type?: unknown; token?: unknown };
      if (m.type === 'auth' && typeof m.token === 'string') token = m.token;
    } catch {
      /* not JSON: refused below */
    }
    const actor = token ? await this.tokens.verify(token) : null;
    if (!actor || !CONSOLE_ROLES.has(actor.role)) {
      socket.close(4401, 'a valid console token is required');
      return;
    }
    socket.actor = actor;
    socket.alive = true;
    socket.on('pong', () => (socket.alive = true));
    socket.send(JSON.stringify({ type: 'hello', user: actor.username }));
  }

  /** Half-open connections (a phone that lost its network) are found by ping/pong and closed. */
  private sweep(): void {
    for (const c of (this.server?.clients ?? new Set()) as Set<LiveSocket>) {
      if (c.alive === false) {
        c.terminate();
        continue;
      }
      c.alive = false;
      c.ping();
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    this.heartbeat = setInterval(() => this.sweep(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.consumer = await this.bus.subscribe({
      groupId: 'console-live',
      topics: [Topics.alertChanges],
      ephemeral: true,
      // a failure here (live channel down) is logged by the bus and skipped: consoles re-read the queue over the API
      handle: (m) => this.live.publish(liveChange(m)),
      // a burst of changes reaches the console replicas as one message on the live channel; one unreadable change
      // is left out (and logged) without the others
      handleBatch: (ms) => this.live.publishAll(ms.flatMap((m) => {
        try {
          return [liveChange(m)];
        } catch (err) {
          this.log.warn({ err, topic: m.topic, offset: m.offset }, 'live view could not show a message');
          return [];
        }
      })),
    });
  }

  /** To this process's consoles whose district covers the message's district. */
  private broadcast(message: LiveMessage): void {
    if (!this.server) return;
    const text = JSON.stringify(message.body);
    for (const c of this.server.clients as Set<LiveSocket>) {
      if (c.readyState !== c.OPEN || !c.actor) continue;
      if (!canAccessDistrict(c.actor, message.district)) continue;
      this.send(c, text);
    }
  }

  /**
   * A burst of changes (a fan-out message holds every change of a fetched batch, delivered one after another in one
   * tick) goes to each console in one TCP write, not one per change: the socket is corked at the tick's first frame
   * and uncorked once the tick's frames are all queued. Each write costs the server a system call and the phone a
   * packet: with one console open at 1,000 alarms/s the console process made 3.4 read/write system calls per alarm
   * before, 0.3 after (docs/performance.md, "Eleventh session").
   */
  private send(c: LiveSocket, text: string): void {
    const tcp = c._socket;
    if (tcp && !tcp.destroyed && !this.corked.has(tcp)) {
      tcp.cork();
      this.corked.add(tcp);
      if (this.corked.size === 1) process.nextTick(() => this.uncorkAll());
    }
    c.send(text);
  }

  private uncorkAll(): void {
    for (const tcp of this.corked) tcp.uncork();
    this.corked.clear();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.unsubscribe();
    await this.consumer?.stop();
    this.log.debug('live gateway stopped');
  }
}
