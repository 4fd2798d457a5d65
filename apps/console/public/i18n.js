// Labels for the operators' console. Simplified Chinese is the default; English for visitors and auditors.
// Keys are stable; every enum the server sends (event type, status, outcome...) has a label in both languages.

const zh = {
  'app.title': '邻安监控台',
  'app.brand': '邻安',
  'app.sub': '监控台',
  'login.title': '值班员登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.busy': '正在登录…',
  'login.bad': '用户名或密码错误，请重新输入',
  'login.empty': '请输入用户名和密码',
  'login.network': '无法连接服务器，请检查网络后重试',
  'login.role': '该账号（{role}）无权使用监控台',
  'login.expired': '登录已过期，请重新登录',
  'header.unacked': '未确认',
  'header.open': '未办结',
  'header.logout': '退出',
  'header.sound.on': '提示音已开启（点击静音）',
  'header.sound.off': '提示音已静音（点击开启）',
  'header.lang': 'EN',
  'header.lang.title': 'Switch to English',
  'conn.down': '实时连接已断开，正在重连中…',
  'conn.retry': '{s} 秒后重连（第 {n} 次）',
  'conn.connecting': '正在连接实时告警…',
  'conn.poll': '期间每 10 秒自动刷新列表',
  'conn.live': '实时',
  'conn.offline': '离线',
  'audio.hint': '点击启用提示音',
  'tab.queue': '告警队列',
  'tab.sms': '短信记录',
  'queue.empty': '当前没有未办结的告警',
  'queue.loadError': '告警列表加载失败：{msg}',
  'queue.updated': '更新于 {t}',
  'queue.events': '{n} 次事件',
  'queue.round': '第 {n} 轮升级',
  'detail.placeholder': '在左侧选择一条告警，查看住户信息与处置记录',
  'detail.back': '← 返回队列',
  'detail.loading': '正在加载…',
  'detail.loadError': '告警详情加载失败：{msg}',
  'detail.id': '单号',
  'detail.openedAt': '告警时间',
  'detail.deviceTime': '设备时间',
  'detail.events': '事件数',
  'detail.round': '升级轮次',
  'detail.ackAt': '确认时间',
  'detail.ackBy': '确认人',
  'detail.resolvedAt': '办结时间',
  'detail.outcome': '办结结果',
  'detail.note': '备注',
  'detail.household': '住户信息',
  'detail.phone': '住户电话',
  'detail.address': '地址',
  'detail.area': '辖区',
  'detail.subsidy': '保障类别',
  'detail.funding': '设备费用',
  'detail.coords': '坐标',
  'detail.contacts': '紧急联系人',
  'detail.noContacts': '未登记联系人',
  'detail.timeline': '处置时间线',
  'detail.dispatches': '派单记录',
  'detail.noDispatches': '尚无派单',
  'detail.attempts': '尝试 {n} 次',
  'detail.roundN': '第 {n} 轮',
  'detail.recent': '最近设备事件',
  'detail.call': '拨打',
  'detail.late': '补报（延迟送达）',
  'detail.replayed': '数据库恢复后重新处理',
  'detail.battery': '电量 {n}%',
  'action.ack': '确认接警',
  'action.acking': '正在确认…',
  'action.acked': '已确认接警',
  'action.resolve': '办结',
  'action.resolving': '正在办结…',
  'action.resolved': '已办结：{outcome}',
  'action.outcome': '办结结果',
  'action.pickOutcome': '请选择办结结果',
  'action.notePlaceholder': '备注（可选），如：已电话确认平安',
  'action.needOutcome': '请先选择办结结果',
  'action.error': '操作失败',
  'err.ALERT.WRONG_STATE': '告警状态已变化，无法执行该操作',
  'err.AUTH.DISTRICT_FORBIDDEN': '无权处理其他辖区的告警',
  'err.AUTH.ROLE_FORBIDDEN': '当前账号角色无权执行该操作',
  'err.ALERT.NOT_FOUND': '告警不存在',
  'err.network': '网络错误，请重试',
  'sms.empty': '暂无短信',
  'sms.to': '收件人',
  'sms.ref': '单号',
  'sms.hint': '模拟短信通道：以下短信并未真正发出（手机号已脱敏）',
  'toast.close': '关闭',
  'toast.notice': '监控中心提醒',
  'toast.escalated': '告警升级',
  'toast.newAlert': '新告警',
  'toast.open': '查看',
};

const en = {
  'app.title': "Lin'an Console",
  'app.brand': "Lin'an",
  'app.sub': 'Console',
  'login.title': 'Operator sign-in',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.busy': 'Signing in…',
  'login.bad': 'Wrong username or password',
  'login.empty': 'Enter your username and password',
  'login.network': 'Cannot reach the server; check the network and retry',
  'login.role': 'This account ({role}) may not use the console',
  'login.expired': 'Your session has expired; please sign in again',
  'header.unacked': 'Unacknowledged',
  'header.open': 'Open',
  'header.logout': 'Sign out',
  'header.sound.on': 'Sound on (click to mute)',
  'header.sound.off': 'Sound muted (click to unmute)',
  'header.lang': '中文',
  'header.lang.title': '切换到中文',
  'conn.down': 'Live feed disconnected — reconnecting…',
  'conn.retry': 'retry in {s}s (attempt {n})',
  'conn.connecting': 'Connecting to the live feed…',
  'conn.poll': 'the list refreshes every 10 s meanwhile',
  'conn.live': 'Live',
  'conn.offline': 'Offline',
  'audio.hint': 'Click to enable alarm sound',
  'tab.queue': 'Alert queue',
  'tab.sms': 'SMS log',
  'queue.empty': 'No open alerts',
  'queue.loadError': 'Could not load alerts: {msg}',
  'queue.updated': 'updated {t}',
  'queue.events': '{n} events',
  'queue.round': 'escalation round {n}',
  'detail.placeholder': 'Select an alert on the left to see the household and the response record',
  'detail.back': '← Back to queue',
  'detail.loading': 'Loading…',
  'detail.loadError': 'Could not load the alert: {msg}',
  'detail.id': 'Ref',
  'detail.openedAt': 'Opened',
  'detail.deviceTime': 'Device time',
  'detail.events': 'Events',
  'detail.round': 'Escalation round',
  'detail.ackAt': 'Acknowledged',
  'detail.ackBy': 'Acknowledged by',
  'detail.resolvedAt': 'Resolved',
  'detail.outcome': 'Outcome',
  'detail.note': 'Note',
  'detail.household': 'Household',
  'detail.phone': 'Phone',
  'detail.address': 'Address',
  'detail.area': 'Area',
  'detail.subsidy': 'Category',
  'detail.funding': 'Funding',
  'detail.coords': 'Coordinates',
  'detail.contacts': 'Emergency contacts',
  'detail.noContacts': 'No contacts on file',
  'detail.timeline': 'Timeline',
  'detail.dispatches': 'Dispatches',
  'detail.noDispatches': 'No dispatches yet',
  'detail.attempts': '{n} attempt(s)',
  'detail.roundN': 'round {n}',
  'detail.recent': 'Recent device events',
  'detail.call': 'Call',
  'detail.late': 'late delivery',
  'detail.replayed': 'applied again after a database restore',
  'detail.battery': 'battery {n}%',
  'action.ack': 'Acknowledge',
  'action.acking': 'Acknowledging…',
  'action.acked': 'Acknowledged',
  'action.resolve': 'Resolve',
  'action.resolving': 'Resolving…',
  'action.resolved': 'Resolved: {outcome}',
  'action.outcome': 'Outcome',
  'action.pickOutcome': 'Choose an outcome',
  'action.notePlaceholder': 'Note (optional), e.g. called back, all well',
  'action.needOutcome': 'Choose an outcome first',
  'action.error': 'Action failed',
  'err.ALERT.WRONG_STATE': 'The alert has changed state; this action is no longer possible',
  'err.AUTH.DISTRICT_FORBIDDEN': 'You may not handle alerts of another district',
  'err.AUTH.ROLE_FORBIDDEN': 'Your role may not do this',
  'err.ALERT.NOT_FOUND': 'The alert does not exist',
  'err.network': 'Network error; please retry',
  'sms.empty': 'No messages yet',
  'sms.to': 'To',
  'sms.ref': 'Ref',
  'sms.hint': 'Fake SMS provider: these messages were not really sent (numbers masked)',
  'toast.close': 'Close',
  'toast.notice': 'Operator notice',
  'toast.escalated': 'Escalated',
  'toast.newAlert': 'New alert',
  'toast.open': 'Open',
};

/** Server enums → labels, per language. */
const enums = {
  zh: {
    type: {
      sos: '紧急呼叫', smoke: '烟雾报警', gas: '燃气泄漏', fall: '跌倒报警', water: '漏水报警', inactivity: '长时间无活动',
      low_battery: '电量低', tamper: '设备被拆', fault: '设备故障', power_loss: '断电', power_restored: '来电恢复', test: '测试',
    },
    status: { open: '待处理', dispatched: '已派单', escalated: '已升级', acknowledged: '已确认', resolved: '已办结' },
    outcome: {
      genuine_emergency: '确有险情', false_alarm: '误报', test: '测试', no_access: '无法入户',
      handed_to_emergency_services: '已移交120/119', not_home: '不在家', other: '其他',
    },
    subsidy: {
      extreme_poverty: '特困', minimum_living: '低保', disabled: '失能', advanced_age: '高龄', living_alone: '独居',
      empty_nest: '空巢', left_behind: '留守', none: '无',
    },
    funding: { government: '政府补贴', self: '自费' },
    timeline: {
      event_received: '收到设备事件', alert_opened: '告警生成', event_attached: '事件并入告警', dispatch_sent: '派单已发送',
      dispatch_failed: '派单失败', escalated: '告警升级', acknowledged: '已确认接警', resolved: '已办结',
    },
    recipientKind: { aide: '助老员', family: '家属', operators: '监控中心' },
    channel: { sms: '短信', console: '坐席' },
    dispatchStatus: { pending: '待发送', sent: '已发送', failed: '失败' },
    actor: { 'system:triage': '系统·分诊', 'system:dispatch': '系统·派单', 'system:escalation': '系统·升级', system: '系统' },
    actorPrefix: { device: '设备', user: '值班员', system: '系统' },
    state: { alarm: '报警', clear: '解除' },
    role: { admin: '管理员', operator: '值班员', aide: '助老员', installer: '安装员' },
  },
  en: {
    type: {
      sos: 'SOS call', smoke: 'Smoke alarm', gas: 'Gas leak', fall: 'Fall detected', water: 'Water leak', inactivity: 'No activity',
      low_battery: 'Low battery', tamper: 'Tamper', fault: 'Device fault', power_loss: 'Power loss', power_restored: 'Power restored', test: 'Test',
    },
    status: { open: 'Open', dispatched: 'Dispatched', escalated: 'Escalated', acknowledged: 'Acknowledged', resolved: 'Resolved' },
    outcome: {
      genuine_emergency: 'Genuine emergency', false_alarm: 'False alarm', test: 'Test', no_access: 'No access',
      handed_to_emergency_services: 'Handed to 120/119', not_home: 'Not at home', other: 'Other',
    },
    subsidy: {
      extreme_poverty: 'Extreme poverty', minimum_living: 'Minimum living allowance', disabled: 'Disabled', advanced_age: 'Advanced age',
      living_alone: 'Living alone', empty_nest: 'Empty nest', left_behind: 'Left behind', none: 'None',
    },
    funding: { government: 'Government-funded', self: 'Self-funded' },
    timeline: {
      event_received: 'Device event received', alert_opened: 'Alert opened', event_attached: 'Event attached', dispatch_sent: 'Dispatch sent',
      dispatch_failed: 'Dispatch failed', escalated: 'Escalated', acknowledged: 'Acknowledged', resolved: 'Resolved',
    },
    recipientKind: { aide: 'Aide', family: 'Family', operators: 'Operators' },
    channel: { sms: 'SMS', console: 'Console' },
    dispatchStatus: { pending: 'Pending', sent: 'Sent', failed: 'Failed' },
    actor: { 'system:triage': 'System · triage', 'system:dispatch': 'System · dispatch', 'system:escalation': 'System · escalation', system: 'System' },
    actorPrefix: { device: 'Device', user: 'Operator', system: 'System' },
    state: { alarm: 'alarm', clear: 'clear' },
    role: { admin: 'admin', operator: 'operator', aide: 'aide', installer: 'installer' },
  },
};

export const OUTCOMES = ['genuine_emergency', 'false_alarm', 'test', 'no_access', 'handed_to_emergency_services', 'not_home', 'other'];

const KEY = 'linan.lang';
let lang = (() => {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
})();

export const getLang = () => lang;

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh';
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

/** A UI string with {name} placeholders filled in. Unknown keys show the key, so a gap is visible, not blank. */
export function t(key, vars = {}) {
  const s = (lang === 'en' ? en : zh)[key] ?? zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

/** A server enum value as a label; an unknown value is shown as sent (future types must not vanish). */
export function label(group, value) {
  if (value === null || value === undefined || value === '') return '—';
  return enums[lang][group]?.[value] ?? String(value);
}
