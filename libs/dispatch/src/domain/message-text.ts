import type { DeviceEventType } from '@linan/contracts';

export const EVENT_LABEL_ZH: Readonly<Record<DeviceEventType, string>> = {
  sos: '紧急呼叫', smoke: '烟雾报警', gas: '燃气泄漏', fall: '跌倒报警', water: '漏水报警', inactivity: '长时间无活动',
  test: '测试', low_battery: '电量低', tamper: '设备被拆', fault: '设备故障', power_loss: '断电', power_restored: '来电恢复',
};

/** 张三丰 → 张**: names in SMS are masked. */
export function maskName(name: string): string {
  return name.length <= 1 ? '*' : `${name[0]}${'*'.repeat(Math.min(name.length - 1, 2))}`;
}

/** Keeps the area and hides the door number. */
export function maskedLocation(community: string, address: string): string {
  return `${community}（${address.slice(0, 6)}…）`;
}

export function aideSms(p: { type: DeviceEventType; elderName: string; community: string; address: string; alertRef: string; round: number }): string {
  const again = p.round > 0 ? '【升级】无人响应，' : '';
  return `【邻安】${again}${EVENT_LABEL_ZH[p.type]}：${maskName(p.elderName)}，${maskedLocation(p.community, p.address)}。请立即响应并在邻安确认，单号${p.alertRef}。`;
}

export function familySms(p: { type: DeviceEventType; elderName: string; alertRef: string }): string {
  return `【邻安】您的家人${maskName(p.elderName)}家中发生${EVENT_LABEL_ZH[p.type]}，社区助老员和监控中心已收到，单号${p.alertRef}。`;
}
