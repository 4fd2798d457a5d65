/**
 * `npm run demo` — the SOS chain end to end in under a minute, as a newcomer would watch it:
 * starts the built platform (embedded mode) on free ports with a temporary data folder, seeds a household,
 * a device and two aides through the HTTP API, connects a simulated SOS button over MQTT, presses SOS and prints
 * each step, in Chinese and English.
 *
 * Env: DEMO_URL + DEMO_MQTT_URL (+ DEMO_ADMIN_PASSWORD or ADMIN_PASSWORD): use a platform that is already running
 *      instead of starting one; DEMO_KEEP=1: leave the started platform running until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { readEnvironment } from '@linan/platform';
import { ApiClient, epochMs, type AlertDetail, type AlertSummary, type DeviceRegistered, type HouseholdView, type SmsView } from './lib/api';
import { closeDevice, connectDevice, nowMs, pressSos } from './lib/device';
import { sleep, startPlatformProcess, type PlatformProcess } from './lib/platform-process';
import { clockTime } from './lib/stats';

const ENV = readEnvironment();
const t0 = Date.now();
let started: PlatformProcess | null = null;
const useColor = process.stdout.isTTY && !ENV.NO_COLOR;
const paint = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');

let stepNo = 0;
function step(zh: string, en: string, details: string[] = []): void {
  stepNo++;
  const at = dim(`+${((Date.now() - t0) / 1000).toFixed(1).padStart(4)}s`);
  process.stdout.write(`${at} ${bold(`${String(stepNo).padStart(2)}. ${zh}`)} ${dim('|')} ${en}\n`);
  for (const d of details) process.stdout.write(`         ${d}\n`);
}

const ms = (x: number) => `${Math.round(x)} ms`;

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  process.stdout.write(`\n${bold("邻安 Lin'an — 一键呼救演示 | SOS demo")}\n\n`);

  // 1. the platform
  let platform: PlatformProcess | null = null;
  let httpUrl: string;
  let mqttUrl: string;
  let password: string;
  let consoleUrl: string;
  if (ENV.DEMO_URL) {
    httpUrl = ENV.DEMO_URL.replace(/\/+$/, '');
    mqttUrl = ENV.DEMO_MQTT_URL ?? `mqtt://${new URL(httpUrl).hostname}:1883`;
    password = ENV.DEMO_ADMIN_PASSWORD ?? ENV.ADMIN_PASSWORD ?? '';
    if (!password) throw new Error('DEMO_URL is set: give the admin password in DEMO_ADMIN_PASSWORD');
    consoleUrl = `${httpUrl}/`;
    step('使用已运行的平台', 'Using the running platform', [`HTTP ${httpUrl}   MQTT ${mqttUrl}`]);
  } else {
    platform = await startPlatformProcess();
    started = platform;
    ({ httpUrl, mqttUrl, consoleUrl } = platform);
    password = platform.adminPassword;
    step('平台已启动（内嵌模式：MQTT 服务器、数据库、消息总线同在一个进程）',
      'Platform started (embedded mode: MQTT broker, database and bus in one process)',
      [`HTTP ${httpUrl}   MQTT ${mqttUrl}   ready in ${(platform.startupMs / 1000).toFixed(1)} s`, dim(`data folder ${platform.dataDir}`)]);
  }

  let device: MqttClient | null = null;
  try {
    const api = new ApiClient(httpUrl);
    await api.login('admin', password);
    step('管理员已登录', 'Logged in as admin', [dim('POST /api/v1/auth/login → bearer token')]);

    // 2. household
    const suffix = randomBytes(2).toString('hex').toUpperCase();
    const hh = await api.post<HouseholdView>('/api/v1/households', {
      name: '张三丰', phone: '13812345678', address: '厦门市思明区莲前西路100号3单元502',
      district: '思明区', street: '莲前街道', community: '莲花社区', subsidyCategory: 'living_alone', funding: 'government',
      contacts: [{ name: '张丽', phone: '13900001111', relation: '女儿' }],
    });
    step('已建档：独居老人 张三丰', 'Household created: 张三丰, living alone', [
      `${hh.district} / ${hh.street} / ${hh.community}   厦门市思明区莲前西路100号3单元502`,
      `紧急联系人 family contact: 张丽（女儿） 139****1111   id ${dim(hh.id)}`,
    ]);

    // 3. device
    const serial = `DEMO-SOS-${suffix}`;
    const dev = await api.post<DeviceRegistered>('/api/v1/devices', { serial, type: 'sos' });
    step('已登记呼叫器，获得一次性 MQTT 凭据', 'SOS button registered with one-time MQTT credentials', [
      `clientId = username = ${dev.mqtt.clientId}   password = ${dev.mqtt.password}`,
      dim('（密码只在登记时显示一次 | the password is shown only at registration）'),
    ]);
    await api.post(`/api/v1/devices/${dev.id}/install`, { householdId: hh.id });
    step('呼叫器已安装到老人家中', 'Button installed in the household', [`${serial} → 张三丰`]);

    // 4. aides
    const aides = [{ name: '李助老', phone: '13700002222' }, { name: '王助老', phone: '13700003333' }];
    for (const a of aides) {
      await api.post('/api/v1/aides', { ...a, district: hh.district, street: hh.street, community: hh.community, onDuty: true });
    }
    step('两名助老员在岗', 'Two community aides on duty', aides.map((a) => `${a.name}  ${a.phone.slice(0, 3)}****${a.phone.slice(7)}  ${hh.community}`));

    // 5. the device connects and presses SOS
    device = await connectDevice(mqttUrl, dev.mqtt.username, dev.mqtt.password);
    step('呼叫器已联网', 'Button connected over MQTT', [`${mqttUrl} as ${serial}; publishes to devices/${serial}/events`]);

    const ts = nowMs();
    const pubackAt = await new Promise<number>((resolve, reject) =>
      pressSos(device!, serial, `demo-${suffix}-1`, ts, (err, at) => (err ? reject(err) : resolve(at))));
    step(`按下 SOS：${clockTime(ts)}`, `SOS pressed at ${clockTime(ts)}`, [
      `{"id":"demo-${suffix}-1","type":"sos","ts":${ts.toFixed(3)}}  QoS 1`,
      `平台确认收到 PUBACK after ${ms(pubackAt - ts)} ${dim('(the event is durable before the device is answered)')}`,
    ]);

    // 6. the alert
    const alert = await waitFor('the alert', async () => {
      const r = await api.get<{ items: AlertSummary[] }>(`/api/v1/alerts?status=all&householdId=${hh.id}`);
      return r.items[0];
    });
    step('告警已创建', 'Alert opened', [
      `优先级 priority ${red(alert.priority)}   状态 status ${alert.status}   ${ms(epochMs(alert.createdAt) - ts)} after the press   id ${dim(alert.id)}`,
    ]);

    // 7. dispatches
    const detail = await waitFor('the dispatches', async () => {
      const d = await api.get<AlertDetail>(`/api/v1/alerts/${alert.id}`);
      const sent = d.dispatches.filter((x) => x.status !== 'pending');
      return sent.length > 0 && sent.length === d.dispatches.length && d.timeline.some((t) => t.kind === 'dispatch_sent') ? d : undefined;
    });
    const who = (kind: string) => ({ aide: '助老员 aide', family: '家属 family', operators: '值班员 operators' })[kind] ?? kind;
    step('已通知', 'Dispatched', [...detail.dispatches]
      .sort((a, b) => epochMs(a.updatedAt) - epochMs(b.updatedAt))
      .map((d) => `${who(d.recipientKind).padEnd(16)} ${d.recipientName.padEnd(6)} ${d.channel.padEnd(8)} ${d.status === 'sent' ? green(d.status) : red(d.status)}  ` +
        `${ms(epochMs(d.updatedAt) - ts)} after the press${d.status === 'sent' ? '' : dim(` — ${d.lastError ?? '?'} (${d.attempts} attempts)`)}`)
      .concat(detail.dispatches.some((d) => d.channel === 'console' && d.status !== 'sent')
        ? [dim(`（打开控制台即可收到实时告警 | open the console in a browser to receive live notices: ${consoleUrl})`)] : []));

    // 8. the SMS texts
    const ids = new Set(detail.dispatches.map((d) => d.id));
    const sms = (await api.get<{ items: SmsView[] }>('/api/v1/embedded/sms')).items.filter((m) => ids.has(m.reference));
    step('短信内容（演示用的假短信通道）', 'SMS texts sent by the fake provider', sms.length
      ? sms.map((m) => `→ ${m.to}: ${m.text}`)
      : [dim('(none: the platform does not use the fake provider)')]);

    // 9. timeline
    const final = await api.get<AlertDetail>(`/api/v1/alerts/${alert.id}`);
    step('告警时间线', 'Alert timeline', final.timeline.map((t) => {
      const d = t.details;
      const extra = t.kind.startsWith('dispatch_') ? `${String(d.recipientKind ?? '')} ${String(d.recipientName ?? '')} ${String(d.channel ?? '')}`
        : t.kind === 'alert_opened' ? `priority ${String(d.priority ?? '')}` : t.kind === 'event_received' ? `${String(d.type ?? '')} ${String(d.state ?? '')}` : '';
      return `${clockTime(epochMs(t.at))}  +${String(Math.round(epochMs(t.at) - ts)).padStart(4)} ms  ${t.kind.padEnd(15)} ${t.actor.padEnd(22)} ${extra}`;
    }));

    await api.post(`/api/v1/alerts/${alert.id}/resolve`, { outcome: 'test', note: 'npm run demo' });
    step('演示告警已结案（结果：测试）', 'Demo alert resolved (outcome: test)');
  } finally {
    if (device) await closeDevice(device).catch(() => undefined);
  }

  process.stdout.write(`\n  控制台 Console   ${consoleUrl}\n  用户 User        admin\n  密码 Password    ${password}\n\n`);
  if (platform && ENV.DEMO_KEEP === '1') {
    process.stdout.write(`  平台继续运行，按 Ctrl-C 停止 | The platform keeps running; press Ctrl-C to stop it.\n` +
      `  MQTT ${mqttUrl}   data folder ${platform.dataDir} (removed when stopped)\n\n`);
    await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
  }
  if (platform) {
    await platform.stop();
    process.stdout.write(`  平台已停止，临时数据已删除 | Platform stopped, temporary data removed (DEMO_KEEP=1 keeps it running).\n`);
  }
  process.stdout.write(`  ${dim(`demo took ${((Date.now() - t0) / 1000).toFixed(1)} s`)}\n\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\n[demo] FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    if (started) process.stderr.write(`\nplatform output (last lines):\n${started.output().trim().split('\n').slice(-20).join('\n')}\n`);
    process.exit(1);
  },
);
