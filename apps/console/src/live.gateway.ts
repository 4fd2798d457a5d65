import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import type { Server, WebSocket } from 'ws';
import { Topics } from '@linan/contracts';
import { ConsumerHandle, MessageBus, RootLogger, openEnvelope } from '@linan/platform';
import { canAccessDistrict, JwtTokenIssuer, type Actor } from '@linan/auth';
import { InProcessConsoleNotifier } from '@linan/dispatch';

const CONSOLE_ROLES = new Set(['admin', 'operator', 'aide']);
/** A console that misses a ping for this long is dropped, so its browser notices and reconnects. */
const HEARTBEAT_MS = 20_000;
const AUTH_WINDOW_MS = 5_000;
interface LiveSocket extends WebSocket {
  actor?: Actor;
  alive?: boolean;
}

/**
 * The consoles' live channel at /ws: every alert change (from the alert-changes topic) and every operator
 * notice from dispatch, each sent only to consoles whose district covers the alert.
 */
@Injectable()
@WebSocketGateway({ path: '/ws' })
export class LiveGateway implements OnGatewayConnection, OnApplicationBootstrap, OnApplicationShutdown {
  @WebSocketServer() server!: Server;
  private consumer: ConsumerHandle | null = null;
  private readonly unsubscribe: () => void;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly tokens: JwtTokenIssuer,
    private readonly bus: MessageBus,
    notifier: InProcessConsoleNotifier,
    private readonly log: RootLogger,
  ) {
    this.unsubscribe = notifier.subscribe((n) => this.broadcast({ ...n, alertType: n.type, type: 'operator.notice' }, n.district));
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
      handle: async (m) => {
        const e = openEnvelope(Topics.alertChanges, m);
        this.broadcast({ type: 'alert.changed', ...e.payload, at: e.occurredAt }, e.payload.district);
      },
    });
  }

  /** Returns how many consoles received the message; only consoles whose district covers `district`. */
  private broadcast(message: object, district: string): number {
    if (!this.server) return 0;
    const text = JSON.stringify(message);
    let n = 0;
    for (const c of this.server.clients as Set<LiveSocket>) {
      if (c.readyState !== c.OPEN || !c.actor) continue;
      if (!canAccessDistrict(c.actor, district)) continue;
      c.send(text);
      n++;
    }
    return n;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.unsubscribe();
    await this.consumer?.stop();
    this.log.debug('live gateway stopped');
  }
}
