import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium, type Browser, type BrowserContext, type Locator, type Page, type WebSocketRoute } from 'playwright-core';
import { HandleDeviceEventUseCase } from '@linan/alerting';
import { ShiftedClock } from '@linan/platform';
import { ADMIN_PASSWORD, connectDevice, eventually, publishQos1, seedHome, sosEvent, startHarness, type Harness, type SeededHome } from '@linan/testing';

/**
 * The operators' console in headless Chromium against the whole platform in this process: what an operator sees and
 * does, from a wrong password to a resolved SOS, on a phone and on a desktop. Screenshots go to docs/screenshots/.
 */

const SHOTS = join(__dirname, '..', 'docs', 'screenshots');
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };
const DESKTOP = { viewport: { width: 1366, height: 800 }, locale: 'zh-CN' };


/** Retries an assertion block until it passes (the UI updates asynchronously); fails with the last assertion error. */
const see = (what: string, check: () => Promise<void>, ms = 8000) =>
  eventually(async () => {
    await check();
    return true;
  }, ms, what);

/** What the user reads: the rendered text, whitespace collapsed. */
const text = async (l: Locator) => (await l.innerText()).replace(/\s+/g, ' ').trim();
const bodyData = (p: Page, key: string) => p.evaluate(`document.body.dataset.${key} ?? null`) as Promise<string | null>;
/** How far the page scrolls sideways (0 when everything fits the viewport). */
const sideways = (p: Page) => p.evaluate('document.documentElement.scrollWidth - window.innerWidth') as Promise<number>;

describe('operators console (headless Chromium)', () => {
  const clock = new ShiftedClock();
  let h: Harness;
  let browser: Browser;
  let phoneCtx: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  /** Every request of the page that met a 404 (a page file missing). */
  const notFound: string[] = [];
  const devices = new Map<string, MqttClient>();
  let zhang: SeededHome;
  let li: SeededHome;
  let sosId = '';
  let leakId = '';

  const login = async (p: Page, password = ADMIN_PASSWORD) => {
    await p.fill('#login-username', 'admin');
    await p.fill('#login-password', password);
    await p.click('#login-submit');
  };
  const press = async (home: SeededHome, id: string, type: string) => {
    let c = devices.get(home.serial);
    if (!c) {
      c = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
      devices.set(home.serial, c);
    }
    await publishQos1(c, `devices/${home.serial}/events`, sosEvent(id, clock.now(), { type }));
  };
  const openAlertId = async (householdId: string) =>
    eventually(async () => {
      const r = await h.http().get(`/api/v1/alerts?status=open&householdId=${householdId}`).auth(h.adminToken, { type: 'bearer' }).expect(200);
      return r.body.items[0]?.id as string | undefined;
    }, 10_000, 'the alert in the API');
  const alertById = async (id: string) =>
    (await h.http().get(`/api/v1/alerts/${id}`).auth(h.adminToken, { type: 'bearer' }).expect(200)).body as { status: string; outcome: string | null };
  const row = (p: Page, alertId: string) => p.locator(`#queue li[data-alert-id="${alertId}"] .row`);
  /** A page in a browser context of its own (a phone or a desktop), its script errors collected; `prepare` runs before it loads. */
  const newPage = async (options: typeof PHONE | typeof DESKTOP, prepare?: (p: Page) => Promise<void>) => {
    const ctx = await browser.newContext(options);
    ctx.setDefaultTimeout(8000);
    const p = await ctx.newPage();
    p.on('pageerror', (e) => pageErrors.push(e.message));
    await prepare?.(p);
    await p.goto(h.platform.httpUrl);
    await login(p);
    return { ctx, p };
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [h, browser] = await Promise.all([
      startHarness({}, { clock }),
      chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
      }),
    ]);
    phoneCtx = await browser.newContext(PHONE);
    phoneCtx.setDefaultTimeout(8000);
    page = await phoneCtx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', (r) => void (r.status() === 404 && notFound.push(r.url())));
  }, 30_000);

  afterAll(async () => {
    for (const d of devices.values()) d.end(true);
    await browser?.close();
    await h?.close();
  });

  it('refuses a wrong password with a clear Chinese error, then signs in to an empty, live queue', async () => {
    await page.goto(h.platform.httpUrl);
    expect(await page.title()).toBe('邻安监控台');
    await login(page, 'not-the-password');
    await page.locator('#login-error').waitFor({ state: 'visible' });
    expect(await text(page.locator('#login-error'))).toBe('用户名或密码错误，请重新输入');
    expect(await page.locator('#console-view').isHidden()).toBe(true);

    await login(page);
    await page.locator('#queue-empty').waitFor({ state: 'visible' });
    expect(await text(page.locator('#queue-empty'))).toBe('当前没有未办结的告警');
    expect(await text(page.locator('#count-open'))).toBe('0 未办结');
    expect(await page.locator('#login-view').isHidden()).toBe(true);
    await page.locator('#live-dot[data-state="up"]').waitFor();
    expect(await page.locator('#conn-banner').isHidden()).toBe(true);
    // the login click unlocked sound, so no "click to enable sound" hint
    expect(await bodyData(page, 'audio')).toBe('running');
    expect(await page.locator('#audio-hint').isHidden()).toBe(true);
    expect(await sideways(page)).toBeLessThanOrEqual(0);
    expect(notFound).toEqual([]);
  });

  it('shows alarms live as devices raise them: P1 on top, Chinese labels, a ticking timer, a beep and a notice for P1 only', async () => {
    await page.evaluate('window.__sameDocument = true');
    li = await seedHome(h, {
      aides: 0,
      household: {
        name: '李四海', phone: '13811112222', address: '厦门市思明区文屏路8号1单元101', community: '文屏社区', subsidyCategory: 'minimum_living',
        contacts: [{ name: '<img src=x onerror="document.body.dataset.xss=1">李明', phone: '13922223333', relation: '儿子' }],
      },
    });
    zhang = await seedHome(h, { aides: 2 });

    // a water leak (P2) first: it appears without a reload, and does not beep
    await press(li, 'w1', 'water');
    leakId = await openAlertId(li.householdId);
    await row(page, leakId).waitFor({ timeout: 8000 });
    expect(await text(row(page, leakId))).toMatch(/^P2 漏水报警 \d\d:\d\d 李四海 · 文屏社区 (待处理|已派单)$/);
    expect(await bodyData(page, 'beeps')).toBeNull();

    // then an SOS (P1): newer, but on top
    await press(zhang, 'e1', 'sos');
    sosId = await openAlertId(zhang.householdId);
    await row(page, sosId).waitFor({ timeout: 8000 });
    const rows = page.locator('#queue .row');
    await see('two rows, the SOS first', async () => {
      expect(await rows.count()).toBe(2);
      expect(await rows.nth(0).getAttribute('data-priority')).toBe('P1');
    });
    const first = await text(rows.nth(0));
    expect(first).toMatch(/^P1 紧急呼叫 \d\d:\d\d 张三丰 · 莲花社区 (待处理|已派单)$/);
    expect(await text(page.locator('#count-unacked'))).toBe('2 未确认');
    expect(await text(page.locator('#count-open'))).toBe('2 未办结');
    expect(await page.title()).toBe('(2) 邻安监控台');
    expect(await page.evaluate('window.__sameDocument')).toBe(true); // live over the WebSocket, no reload

    // the timer runs, and is not red while the alarm is young
    const timer = row(page, sosId).locator('.timer');
    const t0 = await text(timer);
    await see('the timer to advance', async () => expect(await text(timer)).not.toBe(t0), 3000);
    expect(await timer.getAttribute('class')).not.toContain('overdue');

    // the P1 beeped (Web Audio) and dispatch's operator notice arrived as a toast; the row flashes until acknowledged
    await see('a beep', async () => expect(await bodyData(page, 'beeps')).toBe('1'));
    const toast = page.locator(`.toast[data-alert-id="${sosId}"]`);
    await toast.waitFor({ timeout: 8000 });
    expect(await text(toast)).toContain('P1 紧急呼叫 · 莲花社区');
    expect(await row(page, sosId).getAttribute('class')).toContain('flash');
    expect(await sideways(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SHOTS, 'console-queue-phone.png') });
    await page.locator(`.toast[data-alert-id="${leakId}"] .close`).click();
  });

  it('opens the alert: household with call links, the timeline and the dispatches on one screen', async () => {
    await row(page, sosId).click();
    const detail = page.locator('#detail');
    await detail.locator('.hh-name').waitFor();
    expect(await page.locator('.list-pane').isHidden()).toBe(true); // on a phone the detail replaces the queue
    expect(await page.locator(`.toast[data-alert-id="${sosId}"]`).count()).toBe(0); // the notice is dealt with by opening it
    expect(await text(detail.locator('.hh-name'))).toBe('张三丰');
    expect(await detail.locator('a.tel[href="tel:13812345678"]').count()).toBe(1);
    const household = await text(detail.locator('.household'));
    for (const s of ['厦门市思明区莲前西路100号3单元502', '思明区 · 莲前街道 · 莲花社区', '保障类别 独居', '设备费用 政府补贴', '张丽 (女儿)']) expect(household).toContain(s);
    expect(await detail.locator('.contacts a[href="tel:13900001111"]').count()).toBe(1);
    expect(await text(detail.locator('.detail-head'))).toMatch(/^P1 紧急呼叫 (待处理|已派单) \d\d:\d\d/);

    await see('the timeline and the dispatches', async () => {
      const timeline = await text(detail.locator('.timeline').first());
      expect(timeline).toMatch(/^\d\d:\d\d:\d\d 收到设备事件 · 设备 SOS-[\w-]+ 紧急呼叫 · 报警 · #e1 \d\d:\d\d:\d\d 告警生成 · 系统·分诊 P1 /);
      expect(timeline).toContain('派单已发送 · 系统·派单 助老员 助老员1 · 短信 · 第 0 轮 · 尝试 1 次');
      const items = detail.locator('.dispatches li');
      expect(await items.count()).toBe(4);
      const all = await text(detail.locator('.dispatches'));
      expect(all).toContain('助老员1 助老员 短信 已发送 尝试 1 次');
      expect(all).toContain('张丽 家属 短信 已发送 尝试 1 次');
      // the console itself was the operators' channel: delivered because this page was connected
      expect(all).toContain('监控中心 监控中心 坐席 已发送');
    });
    expect(await sideways(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SHOTS, 'console-detail-phone.png'), fullPage: true });
  });

  it('确认接警 acknowledges in one click; 办结 with 误报 takes the alert off the queue', async () => {
    const detail = page.locator('#detail');
    await page.click('#btn-ack');
    await see('the acknowledgement', async () => {
      expect(await text(page.locator('#action-result'))).toBe('✓ 已确认接警');
      expect(await text(detail.locator('.detail-status'))).toBe('已确认');
      expect(await text(detail.locator('.timeline li[data-kind="acknowledged"]'))).toMatch(/^\d\d:\d\d:\d\d 已确认接警 · 值班员 admin/);
    });
    expect(await page.locator('#btn-ack').isDisabled()).toBe(true);
    expect((await alertById(sosId)).status).toBe('acknowledged');
    await see('the counter', async () => expect(await text(page.locator('#count-unacked'))).toBe('1 未确认'));
    expect(await row(page, sosId).getAttribute('class')).not.toContain('flash');

    // 办结 without an outcome is refused in the page, with a reason
    await page.click('#btn-resolve');
    expect(await text(page.locator('#action-result'))).toBe('请先选择办结结果');
    await page.selectOption('#resolve-outcome', 'false_alarm');
    await page.click('#resolve-note');
    await page.keyboard.type('老人误按，');
    // the elder presses again while the operator types: the detail refreshes live without taking the note away
    await press(zhang, 'e2', 'sos');
    await see('the second press on the open alert', async () => expect(await text(detail.locator('.detail-head + .kv'))).toContain('事件数 2'));
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('resolve-note');
    await page.keyboard.type('已电话确认平安');
    expect(await page.inputValue('#resolve-note')).toBe('老人误按，已电话确认平安');
    expect(await page.inputValue('#resolve-outcome')).toBe('false_alarm');
    await page.click('#btn-resolve');
    await see('the resolution', async () => {
      expect(await text(page.locator('#action-result'))).toBe('✓ 已办结：误报');
      expect(await text(detail.locator('.detail-status'))).toBe('已办结');
      expect(await text(detail.locator('.timeline li[data-kind="resolved"]'))).toMatch(/已办结 · 值班员 admin 误报 · 老人误按，已电话确认平安$/);
    });
    expect(await alertById(sosId)).toMatchObject({ status: 'resolved', outcome: 'false_alarm' });

    await page.click('#detail .back');
    await page.locator('.list-pane').waitFor();
    await see('the SOS to leave the queue', async () => {
      expect(await row(page, sosId).count()).toBe(0);
      expect(await page.locator('#queue .row').count()).toBe(1);
      expect(await text(page.locator('#count-open'))).toBe('1 未办结');
    });
  });

  it('shows the server\'s reason when another operator acknowledged first (409), and never renders server text as HTML', async () => {
    const other = await h.tokenFor('operator');
    let raced = false;
    // another operator acknowledges at the very moment this one clicks: the server answers 409
    await page.route('**/api/v1/alerts/*/acknowledge', async (route) => {
      if (!raced) {
        raced = true;
        await h.http().post(`/api/v1/alerts/${leakId}/acknowledge`).auth(other, { type: 'bearer' }).expect(200);
      }
      await route.continue();
    });
    await row(page, leakId).click();
    const detail = page.locator('#detail');
    await detail.locator('.hh-name').waitFor();
    await page.click('#btn-ack');
    await see('the conflict message', async () => {
      expect(await text(page.locator('#action-result'))).toBe('告警状态已变化，无法执行该操作（409 cannot acknowledge an alert that is acknowledged）');
      expect(await text(detail.locator('.detail-status'))).toBe('已确认');
      expect(await text(detail.locator('.timeline li[data-kind="acknowledged"]'))).toContain('值班员 operator');
    });
    expect(await page.locator('#action-result').getAttribute('class')).toBe('form-error');
    await page.unroute('**/api/v1/alerts/*/acknowledge');

    // a contact whose name is markup is shown as text
    expect(await text(detail.locator('.contacts'))).toContain('<img src=x onerror="document.body.dataset.xss=1">李明 (儿子)');
    expect(await detail.locator('.contacts img').count()).toBe(0);
    expect(await bodyData(page, 'xss')).toBeNull();
    await page.click('#detail .back');
  });

  it('lists what the fake SMS provider sent, masked', async () => {
    await page.click('#tab-sms');
    const list = page.locator('#sms-list');
    await see('the SMS log', async () => {
      const all = await text(list);
      expect(all).toContain('收件人 139****1111');
      expect(all).toContain(`您的家人张**家中发生紧急呼叫，社区助老员和监控中心已收到，单号${sosId.slice(0, 8)}`);
      expect(all).toContain('收件人 137****1000');
      expect(all).not.toContain('13900001111');
    });
    expect(Number(await text(page.locator('#tab-sms-n')))).toBeGreaterThanOrEqual(4);
    await page.click('#tab-queue');
  });

  it('turns the timer red for an alarm unacknowledged for over a minute', async () => {
    const wang = await seedHome(h, { aides: 0, household: { name: '王五', community: '莲花社区', subsidyCategory: 'advanced_age', funding: 'self', contacts: [] } });
    clock.offsetMs = -90_000; // the platform opens this alarm "90 s ago"
    await press(wang, 'f1', 'fall');
    const fallId = await openAlertId(wang.householdId);
    const fall = row(page, fallId);
    await fall.waitFor({ timeout: 8000 });
    const timer = fall.locator('.timer');
    await see('a red timer past 01:30', async () => {
      expect(await text(timer)).toMatch(/^01:[3-5]\d$/); // opened 90 s before the platform's now
      expect(await timer.getAttribute('class')).toContain('overdue');
    });
    expect(await page.locator('#queue .row').first().getAttribute('data-priority')).toBe('P1');
    await see('a second beep', async () => expect(await bodyData(page, 'beeps')).toBe('2'));
  });

  it('switches to English, remembers it across a reload, and keeps the session', async () => {
    await page.click('#console-view .lang-toggle');
    expect(await text(page.locator('#tab-queue'))).toMatch(/^Alert queue \d+$/);
    expect(await text(page.locator('#count-unacked'))).toBe('1 Unacknowledged');
    expect(await text(row(page, leakId))).toMatch(/^P2 Water leak \d\d:\d\d 李四海 · 文屏社区 Acknowledged$/);
    expect(await page.evaluate('document.documentElement.lang')).toBe('en');
    expect(await sideways(page)).toBeLessThanOrEqual(0); // longer English labels still fit the phone

    await page.reload();
    await row(page, leakId).waitFor();
    expect(await text(page.locator('#tab-queue'))).toMatch(/^Alert queue \d+$/);
    expect(await text(page.locator('#queue .row .type').first())).toBe('Fall detected');
    // after a reload no click has happened yet: the browser keeps sound suspended and the page asks for a click
    expect(await bodyData(page, 'audio')).toBe('suspended');
    expect(await page.locator('#audio-hint').isVisible()).toBe(true);
    expect(await text(page.locator('#audio-hint'))).toBe('Click to enable alarm sound');
    await page.click('#audio-hint');
    await page.locator('#audio-hint').waitFor({ state: 'hidden' });
    expect(await bodyData(page, 'audio')).toBe('running');

    await row(page, leakId).click();
    const detail = page.locator('#detail');
    await detail.locator('.hh-name').waitFor();
    expect(await text(detail.locator('.household h3').first())).toBe('Household');
    expect(await text(detail.locator('.household'))).toContain('Category Minimum living allowance');
    expect(await text(detail.locator('.timeline li[data-kind="alert_opened"]'))).toContain('Alert opened · System · triage');
    expect(await text(page.locator('#btn-ack'))).toBe('✓ Acknowledged');
    expect(await page.locator('#resolve-outcome option[value="handed_to_emergency_services"]').textContent()).toBe('Handed to 120/119');
    expect(await sideways(page)).toBeLessThanOrEqual(0); // even with a long unbreakable contact name

    await page.click('#console-view .lang-toggle');
    expect(await text(detail.locator('.household h3').first())).toBe('住户信息');
    expect(await text(page.locator('#btn-ack'))).toBe('✓ 已确认');
    expect(await page.evaluate('document.documentElement.lang')).toBe('zh-CN');
    await page.click('#detail .back');
  });

  it('on a desktop shows the queue and the detail side by side', async () => {
    const { ctx, p: desk } = await newPage(DESKTOP);
    const top = desk.locator('#queue .row').first();
    await top.waitFor();
    await top.click();
    await desk.locator('#detail .hh-name').waitFor();
    expect(await text(desk.locator('#detail .hh-name'))).toBe('王五');
    expect(await text(desk.locator('#detail .household'))).toContain('设备费用 自费');
    await see('the dispatches', async () => expect(await desk.locator('#detail .dispatches li').count()).toBeGreaterThan(0));
    // both panes visible at once, side by side, and nothing scrolls sideways
    const queueBox = await desk.locator('.list-pane').boundingBox();
    const detailBox = await desk.locator('.detail-pane').boundingBox();
    expect(queueBox && detailBox && queueBox.x + queueBox.width <= detailBox.x).toBe(true);
    expect(await desk.locator('#detail .back').isHidden()).toBe(true);
    expect(await sideways(desk)).toBeLessThanOrEqual(0);
    await desk.locator('#live-dot[data-state="up"]').waitFor();
    await desk.screenshot({ path: join(SHOTS, 'console-desktop.png') });

    await desk.click('#logout');
    await desk.locator('#login-form').waitFor();
    expect(await desk.evaluate('sessionStorage.getItem("linan.session")')).toBeNull();
    await ctx.close();
  });

  it('says so when the live feed drops, reconnects by itself, and returns to sign-in on a rejected token (4401)', async () => {
    let attempts = 0;
    let live: WebSocketRoute | null = null;
    const { ctx, p } = await newPage(PHONE, (page) => page.routeWebSocket(/\/ws$/, (ws) => {
      attempts++;
      if (attempts <= 2) {
        void ws.close({ code: 4000, reason: 'test: feed down' });
      } else {
        ws.connectToServer();
        live = ws;
      }
    }));
    const banner = p.locator('#conn-banner');
    await banner.waitFor({ state: 'visible', timeout: 5000 });
    expect(await text(banner.locator('strong'))).toBe('实时连接已断开，正在重连中…');
    expect(await p.locator('#live-dot').getAttribute('data-state')).toBe('down');
    // the queue is still shown (fetched over HTTP) while the feed is down
    await p.locator('#queue .row').first().waitFor();

    await p.locator('#live-dot[data-state="up"]').waitFor({ timeout: 10_000 });
    expect(attempts).toBe(3);
    expect(await banner.isHidden()).toBe(true);

    await (live as WebSocketRoute | null)?.close({ code: 4401, reason: 'a valid console token is required' });
    await p.locator('#login-form').waitFor({ timeout: 5000 });
    expect(await text(p.locator('#login-error'))).toBe('登录已过期，请重新登录');
    expect(await p.evaluate('sessionStorage.getItem("linan.session")')).toBeNull();
    await ctx.close();
  });

  it('marks on the timeline a device event applied again after a database restore', async () => {
    const zhao = await seedHome(h, { aides: 0, household: { name: '赵六', community: '莲花社区', contacts: [] } });
    // what triage does with an SOS that Kafka gives it again after the database lost it (distributed mode)
    const sos = {
      eventId: randomUUID(), occurredAt: new Date(clock.now()).toISOString(), correlationId: randomUUID(), schemaVersion: 1 as const,
      payload: {
        deviceId: zhao.deviceId, serial: zhao.serial, householdId: zhao.householdId, deviceEventId: 'r1', type: 'sos' as const, state: 'alarm' as const,
        deviceTs: clock.now() - 600_000, receivedAt: clock.now() - 600_000, late: false,
      },
    };
    await h.platform.app.get(HandleDeviceEventUseCase).executeBatch([sos], new Set([sos]));
    const alertId = await openAlertId(zhao.householdId);
    const { ctx, p } = await newPage(PHONE);
    await row(p, alertId).click();
    await see('the mark on the event', async () =>
      expect(await text(p.locator('#detail .timeline li[data-kind="event_received"]'))).toMatch(/#r1 · 数据库恢复后重新处理$/));
    await p.screenshot({ path: join(SHOTS, 'console-replayed-phone.png'), fullPage: true });
    await ctx.close();
  });

  it('raised no script errors in any page', () => {
    expect(pageErrors).toEqual([]);
  });
});
